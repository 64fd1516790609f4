#!/usr/bin/env python3
"""An independent reference for PeerDist's Content Information, written from MS-PCCRC and the
chunker's documentation with nothing but Python's hashlib and hmac (and the openssl command for
AES). The Swift tests run it and compare bytes, so the encoder never checks only itself.

  pccrc_reference.py ci-v1 FILE SECRET_HEX        Content Information 1.0 (SHA-256), hex
  pccrc_reference.py ci-v2 FILE SECRET_HEX        Content Information 2.0 with PeerDist's gear chunker, hex
  pccrc_reference.py keyfile SECRET_HEX PASSPHRASE  a `netsh branchcache exportkey` file, hex
"""
import hashlib
import hmac
import struct
import subprocess
import sys

SEGMENT = 32 * 1024 * 1024
BLOCK = 64 * 1024
MAGIC = "MS_P2P_CACHING\0".encode("utf-16-le")


def ci_v1(data, secret):
    ks = hashlib.sha256(secret).digest()
    descriptions, blocks = b"", b""
    offsets = range(0, len(data), SEGMENT)
    for offset in offsets:
        segment = data[offset:offset + SEGMENT]
        hashes = [hashlib.sha256(segment[i:i + BLOCK]).digest() for i in range(0, len(segment), BLOCK)]
        hod = hashlib.sha256(b"".join(hashes)).digest()
        kp = hmac.new(ks, hod, hashlib.sha256).digest()
        descriptions += struct.pack("<QII", offset, len(segment), BLOCK) + hod + kp
        blocks += struct.pack("<I", len(hashes)) + b"".join(hashes)
    header = struct.pack("<HIIII", 0x0100, 0x800C, 0, 0, len(offsets))
    return header + descriptions + blocks


GEAR = [int.from_bytes(hashlib.sha256(b"PeerDist gear v1" + bytes([i])).digest()[:8], "big") for i in range(256)]
MIN, NORMAL, MAX = 32 * 1024, 64 * 1024, 128 * 1024
STRICT = ((1 << 18) - 1) << 46
LOOSE = ((1 << 14) - 1) << 50
MASK64 = (1 << 64) - 1


def chunk_lengths(data):
    lengths, start = [], 0
    while start < len(data):
        end, h, cut = min(len(data), start + MAX), 0, None
        for i in range(start + MIN, end):
            h = ((h << 1) + GEAR[data[i]]) & MASK64
            length = i - start + 1
            if h & (STRICT if length <= NORMAL else LOOSE) == 0:
                cut = i + 1
                break
        if cut is None:
            cut = end
        lengths.append(cut - start)
        start = cut
    return lengths


def ci_v2(data, secret):
    ks = hashlib.sha512(secret).digest()[:32]
    body, offset = b"", 0
    for length in chunk_lengths(data):
        hod = hashlib.sha512(data[offset:offset + length]).digest()[:32]
        kp = hmac.new(ks, hod, hashlib.sha512).digest()[:32]
        body += struct.pack(">I", length) + hod + kp
        offset += length
    header = bytes([0, 2, 4]) + struct.pack(">QQIQ", 0, 0, 0, 0)
    return header + bytes([0]) + struct.pack(">I", len(body)) + body


def keyfile(secret, passphrase):
    key = hashlib.sha256(passphrase.encode("utf-16-le")).hexdigest()
    plaintext = hashlib.sha256(secret).digest() + secret
    return subprocess.run(
        ["openssl", "enc", "-aes-256-cbc", "-K", key, "-iv", "00" * 16],
        input=plaintext, capture_output=True, check=True).stdout


def main(argv):
    command = argv[1]
    if command in ("ci-v1", "ci-v2"):
        with open(argv[2], "rb") as file:
            data = file.read()
        blob = (ci_v1 if command == "ci-v1" else ci_v2)(data, bytes.fromhex(argv[3]))
    elif command == "keyfile":
        blob = keyfile(bytes.fromhex(argv[2]), argv[3])
    else:
        sys.exit(f"unknown command {command}")
    print(blob.hex())


if __name__ == "__main__":
    main(sys.argv)
