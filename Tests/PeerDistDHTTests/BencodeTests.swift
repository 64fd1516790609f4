import Testing
@testable import PeerDistDHT

@Suite struct BencodeTests {
    let decoder = BencodeDecoder()

    @Test func decodesAndReencodesEveryKind() throws {
        let text = "d4:listli-42ei0e3:abce4:spamd1:ai1e1:b0:e3:str5:helloe"
        let value = try decoder.decode(Array(text.utf8))
        #expect(value["str"] == .string("hello"))
        #expect(value["list"] == .list([.integer(-42), .integer(0), .string("abc")]))
        #expect(value["spam"]?["b"] == .bytes([]))
        #expect(value.encoded == Array(text.utf8))
    }

    @Test func encodesDictionaryKeysSortedAsBytes() {
        let value: Bencode = ["zz": .integer(1), "a": .integer(2), "ab": .integer(3)]
        #expect(String(decoding: value.encoded, as: UTF8.self) == "d1:ai2e2:abi3e2:zzi1ee")
    }

    @Test(arguments: [
        ("i01e", BencodeError.Kind.badInteger, 1),
        ("i-0e", .badInteger, 1),
        ("ie", .badInteger, 1),
        ("i12", .truncated, 1),
        ("5:abc", .truncated, 0),
        ("d1:bi1e1:ai2ee", .unsortedKeys, 7),
        ("d1:ai1e1:ai2ee", .unsortedKeys, 7),
        ("di1ei2ee", .wrongType, 1),
        ("l", .truncated, 1),
        ("i1ei2e", .trailingBytes, 3),
        ("x", .unexpectedByte, 0),
        ("i99999999999999999999e", .badInteger, 1),
        ("02:ab", .badInteger, 0),
    ])
    func refusesMalformedInputNamingTheByte(input: String, kind: BencodeError.Kind, offset: Int) {
        #expect(throws: BencodeError.self) { try decoder.decode(Array(input.utf8)) }
        do {
            _ = try decoder.decode(Array(input.utf8))
        } catch {
            #expect(error.kind == kind)
            #expect(error.offset == offset)
        }
    }

    @Test func refusesDeepNestingWithoutRecursingFurther() {
        let deep = Array(repeating: UInt8(ascii: "l"), count: 100_000) + Array(repeating: UInt8(ascii: "e"), count: 100_000)
        var limits = BencodeDecoder.Limits()
        limits.maximumInputLength = 1 << 20
        do {
            _ = try BencodeDecoder(limits: limits).decode(deep)
            Issue.record("nesting 100000 deep was accepted")
        } catch {
            #expect(error.kind == .tooDeep)
            #expect(error.offset == 16)
        }
    }

    @Test func refusesHugeStringLengthsBeforeAllocating() {
        do {
            _ = try decoder.decode(Array("999999999999:x".utf8))
            Issue.record("a huge string length was accepted")
        } catch {
            #expect(error.kind == .tooLarge)
        }
        #expect(throws: BencodeError.self) { try BencodeDecoder(limits: .datagram).decode([UInt8](repeating: UInt8(ascii: "0"), count: 5000)) }
    }

    @Test func countsValuesAgainstTheLimit() {
        var limits = BencodeDecoder.Limits()
        limits.maximumValues = 10
        let list = "l" + String(repeating: "i1e", count: 20) + "e"
        #expect(throws: BencodeError.self) { try BencodeDecoder(limits: limits).decode(Array(list.utf8)) }
    }
}
