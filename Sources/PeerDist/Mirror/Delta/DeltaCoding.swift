/// Reads the big-endian fields of the signature and delta formats, which travel inside peer
/// messages, checking every read against what remains; a failure is a `WireError` naming the
/// field and byte where it went wrong. (`BigEndianWriter` encodes them.)
struct DeltaReader {
    /// The field reader manifests use; its errors become `WireError`s here.
    private var fields: ManifestReader

    init(_ bytes: [UInt8], subject: String) {
        fields = ManifestReader(bytes, subject: subject)
    }

    var offset: Int { fields.offset }
    var remaining: Int { fields.remaining }
    var isAtEnd: Bool { fields.isAtEnd }

    func failure(_ reason: String, at position: Int? = nil) -> WireError {
        WireError(fields.failure(reason, at: position).message)
    }

    mutating func integer<T: FixedWidthInteger>(_ type: T.Type, _ field: String) throws(WireError) -> T {
        do throws(MirrorError) {
            return try fields.integer(type, field)
        } catch {
            throw WireError(error.message)
        }
    }

    mutating func bytes(_ count: Int, _ field: String) throws(WireError) -> [UInt8] {
        do throws(MirrorError) {
            return Array(try fields.bytes(count, field))
        } catch {
            throw WireError(error.message)
        }
    }
}
