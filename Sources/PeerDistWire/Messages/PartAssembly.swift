/// Puts together something a peer sends in parts (`total(4) offset(4) part`: sealed Content
/// Information, availability bitmaps, manifest roots, pages and diffs): each part must start
/// where the last ended, every part must name the same total, and the total must be within a
/// limit, so a peer can neither make the receiver allocate without bound nor splice two answers.
public struct PartAssembly: Sendable {
    public enum Outcome: Equatable, Sendable {
        /// More parts are to come.
        case partial
        /// Every part has arrived: the whole.
        case complete([UInt8])
        /// The peer has nothing to send (a total of 0).
        case notHeld
    }

    /// What is being assembled, for errors: "Content Information", "availability".
    public let subject: String
    public let limit: Int
    private var bytes: [UInt8] = []
    private var total: UInt32?

    public init(of subject: String, limit: Int) {
        self.subject = subject
        self.limit = limit
    }

    /// Bytes received so far.
    public var count: Int { bytes.count }

    /// Adds the next part; throws on a part out of order, a total that changed or exceeds the limit.
    public mutating func add(total: UInt32, offset: UInt32, part: [UInt8]) throws(WireError) -> Outcome {
        if total == 0, bytes.isEmpty, self.total == nil { return .notHeld }
        guard Int(total) <= limit, self.total.map({ $0 == total }) ?? true, Int(offset) == bytes.count,
              bytes.count + part.count <= Int(total)
        else {
            throw WireError("the peer's \(subject) parts are out of order or too large")
        }
        self.total = total
        // Appended in place: an answer of many parts is not copied once per part.
        bytes.append(contentsOf: part)
        return bytes.count == Int(total) ? .complete(bytes) : .partial
    }
}
