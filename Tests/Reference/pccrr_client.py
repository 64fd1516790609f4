#!/usr/bin/env python3
"""A BranchCache client written from MS-PCCRC, MS-PCCRD and MS-PCCRR alone, apart from PeerDist's
Swift codec, so the CLI tests check the node against the specification rather than against itself.

  pccrr_client.py fetch CI_FILE OUTPUT [--interface IF] [--peer HOST:PORT] [--algorithm 0|1|2|3]

Reads the Content Information (version 1 or 2) from CI_FILE and derives each segment's ID
(HoHoDk). Without --peer, finds a holder by sending a version 1 WS-Discovery Probe for the segment
IDs to [ff02::c]:3702 on IF and reading XAddrs from the ProbeMatch, the way iPXE does (literal
`<wsd:XAddrs>`, `<wsd:Scopes>` and `<PeerDist:BlockCount>`). Then, over one keep-alive HTTP/1.1
connection, negotiates (MSG_NEGO_REQ), asks each segment's block list (MSG_GETBLKLIST) and
fetches every block (MSG_GETBLKS), decrypts it with Python's `cryptography` (AES-CBC, key = the
leading bytes of Kp; the PKCS#7 padding is checked), verifies it against the Content Information,
and writes the content to OUTPUT. Then, in version 2.0, asks which segments the server holds
(MSG_GETSEGLIST, naming every segment and one made-up ID after them) and checks the MSG_SEGLIST:
the same RequestID, ranges within the request, every real segment and not the made-up one, and
an extensible blob version 1 that parses. Prints one JSON line: peer, blocks, bytes, algorithm,
seglist (the ranges). Exits non-zero, saying why, at the first thing that does not match the
specification.
"""
import hashlib
import hmac
import http.client
import json
import re
import socket
import struct
import sys
import time
import uuid

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MAGIC = "MS_P2P_CACHING\0".encode("utf-16-le")
PATH = "/116B50EB-ECE2-41ac-8429-9F9E963361B7/"
HASHES = {0x800C: hashlib.sha256, 0x800D: hashlib.sha384, 0x800E: hashlib.sha512}


def fail(message):
    sys.stderr.write("pccrr_client: %s\n" % message)
    sys.exit(1)


# MS-PCCRC: Content Information

class Segment:
    def __init__(self, offset, length, block_size, hod, kp, block_hashes, version, hash_function):
        self.offset, self.length, self.block_size = offset, length, block_size
        self.hod, self.kp, self.block_hashes = hod, kp, block_hashes
        self.version, self.hash_function = version, hash_function
        if version == 1:
            self.id = hmac.new(kp, hod + MAGIC, hash_function).digest()
        else:
            self.id = hmac.new(kp, hod + MAGIC, hashlib.sha512).digest()[:32]

    def verify(self, index, data):
        if self.version == 1:
            return self.hash_function(data).digest() == self.block_hashes[index]
        return hashlib.sha512(data).digest()[:32] == self.hod


def parse_ci(blob):
    if blob[:2] == b"\x00\x01":
        algo, _, _, count = struct.unpack_from("<IIII", blob, 2)
        hash_function = HASHES[algo]
        size = hash_function().digest_size
        position, descriptions = 18, []
        for _ in range(count):
            offset, length, block_size = struct.unpack_from("<QII", blob, position)
            hod = blob[position + 16:position + 16 + size]
            kp = blob[position + 16 + size:position + 16 + 2 * size]
            descriptions.append((offset, length, block_size, hod, kp))
            position += 16 + 2 * size
        segments = []
        for offset, length, block_size, hod, kp in descriptions:
            (blocks,) = struct.unpack_from("<I", blob, position)
            position += 4
            hashes = [blob[position + i * size:position + (i + 1) * size] for i in range(blocks)]
            position += blocks * size
            if hash_function(b"".join(hashes)).digest() != hod:
                fail("a segment's block hashes do not hash to its HoD")
            segments.append(Segment(offset, length, block_size, hod, kp, hashes, 1, hash_function))
        return segments
    if blob[:3] == b"\x00\x02\x04":
        start, _, _, _ = struct.unpack_from(">QQIQ", blob, 3)
        position, offset, segments = 31, start, []
        while position < len(blob):
            kind, length = struct.unpack_from(">BI", blob, position)
            position += 5
            if kind != 0 or length % 68:
                fail("a version 2 chunk of type %d and %d bytes" % (kind, length))
            for _ in range(length // 68):
                (size,) = struct.unpack_from(">I", blob, position)
                hod, kp = blob[position + 4:position + 36], blob[position + 36:position + 68]
                segments.append(Segment(offset, size, size, hod, kp, [hod], 2, None))
                offset += size
                position += 68
        return segments
    fail("not Content Information version 1 or 2")


# MS-PCCRD: finding a holder

def probe(segments, interface):
    scopes = " ".join(segment.id.hex().upper() for segment in segments)
    message = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:PeerDist="http://schemas.microsoft.com/p2p/2007/09/PeerDistributionDiscovery">'
        "<soap:Header><wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>"
        "<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>"
        "<wsa:MessageID>urn:uuid:%s</wsa:MessageID></soap:Header>"
        "<soap:Body><wsd:Probe><wsd:Types>PeerDist:PeerDistData</wsd:Types>"
        '<wsd:Scopes MatchBy="http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0">%s</wsd:Scopes>'
        "</wsd:Probe></soap:Body></soap:Envelope>" % (uuid.uuid4(), scopes))
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    destination = ("ff02::c", 3702, 0, socket.if_nametoindex(interface))
    deadline = time.monotonic() + 3
    # Sent twice, a second apart, as iPXE does: one lost datagram must not lose the holder.
    for attempt in range(2):
        sock.sendto(message.encode(), destination)
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, min(1.0, deadline - time.monotonic())))
            try:
                reply, sender = sock.recvfrom(65536)
            except socket.timeout:
                break
            text = reply.decode("utf-8", "replace")
            xaddrs = re.search(r"<wsd:XAddrs>([^<]*)</wsd:XAddrs>", text)
            found = re.search(r"<wsd:Scopes>([^<]*)</wsd:Scopes>", text)
            counts = re.search(r"<PeerDist:BlockCount>([0-9A-F]*)</PeerDist:BlockCount>", text)
            if not (xaddrs and found and counts):
                fail("a ProbeMatch without the literal wsd:XAddrs, wsd:Scopes and PeerDist:BlockCount: %r" % text[:400])
            listed = found.group(1).split()
            if len(counts.group(1)) != 8 * len(listed):
                fail("BlockCount %r does not give 8 hex digits for each of %d scopes" % (counts.group(1), len(listed)))
            address = xaddrs.group(1).strip()
            host, port = address.rsplit(":", 1)
            host = host.strip("[]")
            if host.startswith("fe80:"):
                host = "%s%%%s" % (host, interface)
            return host, int(port), sender
    fail("no ProbeMatch within 3 seconds")


# MS-PCCRR: messages, big-endian, variable fields padded to 4 bytes

def seg_id(segment_id):
    return struct.pack(">I", len(segment_id)) + segment_id + b"\0" * (-len(segment_id) % 4)


def message(kind, body, algorithm):
    # ProtVer follows the type: 1.0 for the block messages, 2.0 for GETSEGLIST/SEGLIST.
    major = 2 if kind >= 6 else 1
    return struct.pack(">HHIII", 0, major, kind, 16 + len(body), algorithm) + body


class Reader:
    def __init__(self, data):
        self.data, self.position = data, 0

    def u32(self):
        if self.position + 4 > len(self.data):
            fail("response ends inside a field at byte %d" % self.position)
        (value,) = struct.unpack_from(">I", self.data, self.position)
        self.position += 4
        return value

    def padded(self):
        size = self.u32()
        if self.position + size > len(self.data):
            fail("a %d-byte field at byte %d runs past the response" % (size, self.position))
        value = self.data[self.position:self.position + size]
        self.position += size + (-size % 4)
        return value


def exchange(connection, request, expected_type):
    connection.request("POST", PATH, body=request, headers={"Connection": "keep-alive"})
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        fail("HTTP %d for a request of type %d" % (response.status, struct.unpack_from(">I", request, 4)[0]))
    if response.getheader("Connection", "keep-alive").lower() == "close":
        fail("the server closed a keep-alive connection")
    (transport,) = struct.unpack_from(">I", body, 0)
    if transport != len(body) - 4:
        fail("transport header %d, %d bytes follow" % (transport, len(body) - 4))
    reader = Reader(body[4:])
    minor_major, kind, size, algorithm = reader.u32(), reader.u32(), reader.u32(), reader.u32()
    if minor_major != (2 if expected_type >= 6 else 1) or kind != expected_type or size != transport:
        fail("response header: version %08x, type %d (%d expected), size %d" % (minor_major, kind, expected_type, size))
    return reader, algorithm


def fetch_blocks(connection, segments, requested_algorithm):
    nego = message(0, struct.pack(">HHHH", 0, 1, 0, 1), 0)
    reader, _ = exchange(connection, nego, 1)
    versions = reader.u32(), reader.u32()
    if versions != (1, 2):
        fail("NEGO_RESP names versions %08x-%08x, not 1.0-2.0" % versions)
    content, blocks = {}, 0
    for segment in segments:
        count = (segment.length + segment.block_size - 1) // segment.block_size
        reader, _ = exchange(connection, message(2, seg_id(segment.id) + struct.pack(">III", 1, 0, count), requested_algorithm), 4)
        if reader.padded() != segment.id:
            fail("BLKLIST for another segment")
        ranges = [(reader.u32(), reader.u32()) for _ in range(reader.u32())]
        if ranges != [(0, count)]:
            fail("BLKLIST %r, the whole segment (0, %d) expected" % (ranges, count))
        for index in range(count):
            request = message(3, seg_id(segment.id) + struct.pack(">IIII", 1, index, 1, 0), requested_algorithm)
            reader, algorithm = exchange(connection, request, 5)
            if reader.padded() != segment.id or reader.u32() != index:
                fail("BLK for another segment or block")
            next_index = reader.u32()
            if next_index != (index + 1 if index + 1 < count else 0):
                fail("NextBlockIndex %d after block %d of %d" % (next_index, index, count))
            data, vrf, iv = reader.padded(), reader.padded(), reader.padded()
            start = segment.offset + index * segment.block_size
            length = min(segment.block_size, segment.offset + segment.length - start)
            if algorithm != requested_algorithm:
                fail("the response's CryptoAlgoId is %d, %d was asked" % (algorithm, requested_algorithm))
            if algorithm:
                key = segment.kp[:{1: 16, 2: 24, 3: 32}[algorithm]]
                if len(iv) != 16 or len(data) % 16:
                    fail("an IV of %d bytes, %d bytes of ciphertext" % (len(iv), len(data)))
                decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
                padded = decryptor.update(data) + decryptor.finalize()
                unpadder = padding.PKCS7(128).unpadder()
                plain = unpadder.update(padded) + unpadder.finalize()
            else:
                plain = data
            if len(plain) != length or not segment.verify(index, plain):
                fail("block %d of the segment at %d does not verify" % (index, segment.offset))
            content[start] = plain
            blocks += 1
    return b"".join(content[offset] for offset in sorted(content)), blocks


def segment_list(connection, segments):
    """MSG_GETSEGLIST for every segment and a made-up ID; returns the SEGLIST's ranges."""
    request_id = uuid.uuid4().bytes
    made_up = hashlib.sha256(b"no such segment").digest()
    ids = [segment.id for segment in segments] + [made_up]
    body = request_id + struct.pack(">I", len(ids)) + b"".join(seg_id(i) for i in ids) + struct.pack(">I", 0)
    reader, _ = exchange(connection, message(6, body, 0), 7)
    if reader.data[reader.position:reader.position + 16] != request_id:
        fail("SEGLIST carries another RequestID")
    reader.position += 16
    ranges = [(reader.u32(), reader.u32()) for _ in range(reader.u32())]
    listed = set()
    for index, count in ranges:
        if count < 1 or index + count > len(ids):
            fail("SEGLIST range (%d, %d) outside the %d IDs asked" % (index, count, len(ids)))
        listed.update(range(index, index + count))
    if listed != set(range(len(segments))):
        fail("SEGLIST %r names other segments than the %d held" % (ranges, len(segments)))
    blob = reader.padded() if reader.position < len(reader.data) else b""
    # Extensible blob version 1: Version(2) = 1, units 1-4, count, 4 bytes per age.
    if blob and (len(blob) < 4 or blob[:2] != b"\x00\x01" or blob[2] not in (1, 2, 3, 4) or len(blob) < 4 * (blob[3] + 1)):
        fail("SEGLIST's extensible blob %r is not version 1" % blob)
    return ranges


def main(arguments):
    if len(arguments) < 3 or arguments[0] != "fetch":
        sys.stderr.write(__doc__)
        return 2
    options = dict(zip(arguments[3::2], arguments[4::2]))
    segments = parse_ci(open(arguments[1], "rb").read())
    if "--peer" in options:
        host, port = options["--peer"].rsplit(":", 1)
        host, port = host.strip("[]"), int(port)
    else:
        host, port, _ = probe(segments, options.get("--interface", "eth0"))
    algorithm = int(options.get("--algorithm", "1"))
    connection = http.client.HTTPConnection(host, port, timeout=10)
    data, blocks = fetch_blocks(connection, segments, algorithm)
    ranges = segment_list(connection, segments)
    connection.close()
    with open(arguments[2], "wb") as output:
        output.write(data)
    print(json.dumps({"peer": "%s:%d" % (host, port), "blocks": blocks, "bytes": len(data), "algorithm": algorithm, "seglist": ranges}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
