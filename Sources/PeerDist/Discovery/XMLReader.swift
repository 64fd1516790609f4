/// A small, non-validating XML reader for SOAP-over-UDP datagrams: it turns at most a datagram's
/// worth of UTF-8 into a tree of elements with namespace-resolved names, and refuses anything
/// outside the plain subset SOAP allows.
///
/// It exists so that reading a stranger's datagram needs no XML library: no DTDs (SOAP forbids
/// them, and with them go external entities and entity expansion), only the five predefined
/// entities and character references, and fixed caps on depth, element count and attributes, each
/// checked before anything is stored. Comments, processing instructions and CDATA are read and
/// dropped or kept as text, as the XML rules say.
package struct XMLReader {
    /// Caps on what one document may contain; a SOAP Probe needs far less than any of them.
    package struct Limits: Sendable {
        var maximumBytes = 64 * 1024
        var maximumDepth = 32
        var maximumElements = 512
        var maximumAttributesPerElement = 32

        package init(maximumBytes: Int = 64 * 1024, maximumDepth: Int = 32, maximumElements: Int = 512, maximumAttributesPerElement: Int = 32) {
            self.maximumBytes = maximumBytes
            self.maximumDepth = maximumDepth
            self.maximumElements = maximumElements
            self.maximumAttributesPerElement = maximumAttributesPerElement
        }
    }

    /// An element: its namespace-resolved name, attributes, child elements, its own text (the
    /// character data directly inside it, concatenated), and the prefixes in scope at it, which
    /// resolve QNames found in text (`wsd:Types` lists QNames).
    package struct Element: Sendable {
        struct Name: Hashable, Sendable {
            /// The namespace URI; empty for no namespace.
            var namespace: String
            var local: String
        }

        var name: Name
        var attributes: [Name: String]
        var children: [Element]
        var text: String
        var namespaces: [String: String]

        /// The child elements called `local` in `namespace`.
        func children(_ namespace: String, _ local: String) -> [Element] {
            children.filter { $0.name == Name(namespace: namespace, local: local) }
        }

        /// Resolves a QName such as `PeerDist:PeerDistData` against the prefixes in scope here.
        func resolve(qualifiedName: Substring) -> Name? {
            let parts = qualifiedName.split(separator: ":", omittingEmptySubsequences: false)
            switch parts.count {
            case 1:
                return Name(namespace: namespaces[""] ?? "", local: String(parts[0]))
            case 2 where !parts[0].isEmpty && !parts[1].isEmpty:
                guard let namespace = namespaces[String(parts[0])] else { return nil }
                return Name(namespace: namespace, local: String(parts[1]))
            default:
                return nil
            }
        }
    }

    /// Why a document was refused, and roughly where (a byte offset).
    package struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        var reason: String
        var offset: Int
        package var description: String { "\(reason) at byte \(offset)" }
    }

    static let xmlNamespace = "http://www.w3.org/XML/1998/namespace"

    private let bytes: [UInt8]
    private let limits: Limits
    private var position = 0
    private var elementCount = 0

    /// Reads `document` whole; throws unless it is one well-formed element within `limits`.
    package static func read(_ document: some Collection<UInt8>, limits: Limits = Limits()) throws(Error) -> Element {
        guard document.count <= limits.maximumBytes else {
            throw Error(reason: "document of \(document.count) bytes exceeds \(limits.maximumBytes)", offset: 0)
        }
        var reader = XMLReader(bytes: Array(document), limits: limits)
        return try reader.readDocument()
    }

    private init(bytes: [UInt8], limits: Limits) {
        self.bytes = bytes
        self.limits = limits
    }

    // MARK: Document

    private mutating func readDocument() throws(Error) -> Element {
        // A UTF-8 byte order mark is allowed; other encodings are not (SOAP-over-UDP is UTF-8).
        if hasPrefix([0xEF, 0xBB, 0xBF]) { position += 3 }
        if hasPrefix("<?xml") && isSpace(at: position + 5) {
            try readDeclaration()
        }
        try skipMisc()
        guard hasPrefix("<") else { throw fail("expected the root element") }
        let root = try readElement(depth: 1, inherited: ["xml": Self.xmlNamespace])
        try skipMisc()
        guard position == bytes.count else { throw fail("content after the root element") }
        return root
    }

    /// `<?xml version="1.0" encoding="utf-8"?>`: the encoding, if named, must be UTF-8.
    private mutating func readDeclaration() throws(Error) {
        guard let end = find("?>", from: position) else { throw fail("unterminated XML declaration") }
        let declaration = String(decoding: bytes[position..<end], as: UTF8.self).lowercased()
        if let range = declaration.range(of: "encoding") {
            let rest = declaration[range.upperBound...].drop { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "'" }
            guard rest.hasPrefix("utf-8") || rest.hasPrefix("utf8") else { throw fail("encoding other than UTF-8") }
        }
        position = end + 2
    }

    /// Whitespace, comments and processing instructions around the root element.
    private mutating func skipMisc() throws(Error) {
        while true {
            skipSpace()
            if hasPrefix("<!--") {
                try skipComment()
            } else if hasPrefix("<?") {
                try skipProcessingInstruction()
            } else if hasPrefix("<!") {
                // DOCTYPE and anything like it: no DTDs, so no entities to expand.
                throw fail("document type declarations are not accepted")
            } else {
                return
            }
        }
    }

    // MARK: Elements

    private mutating func readElement(depth: Int, inherited: [String: String]) throws(Error) -> Element {
        guard depth <= limits.maximumDepth else { throw fail("elements nested deeper than \(limits.maximumDepth)") }
        elementCount += 1
        guard elementCount <= limits.maximumElements else { throw fail("more than \(limits.maximumElements) elements") }
        position += 1  // "<"
        let qualifiedName = try readName()
        var rawAttributes: [(name: String, value: String)] = []
        var selfClosing = false
        while true {
            let hadSpace = skipSpace()
            guard position < bytes.count else { throw fail("unterminated start tag <\(qualifiedName)>") }
            if hasPrefix("/>") {
                position += 2
                selfClosing = true
                break
            }
            if bytes[position] == UInt8(ascii: ">") {
                position += 1
                break
            }
            guard hadSpace else { throw fail("expected whitespace before an attribute") }
            let attributeName = try readName()
            skipSpace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "=") else { throw fail("attribute \(attributeName) without a value") }
            position += 1
            skipSpace()
            let value = try readAttributeValue()
            guard !rawAttributes.contains(where: { $0.name == attributeName }) else { throw fail("attribute \(attributeName) given twice") }
            rawAttributes.append((attributeName, value))
            guard rawAttributes.count <= limits.maximumAttributesPerElement else {
                throw fail("more than \(limits.maximumAttributesPerElement) attributes")
            }
        }

        // Namespace declarations on this element apply to its own name and attributes too.
        var namespaces = inherited
        for attribute in rawAttributes {
            if attribute.name == "xmlns" {
                namespaces[""] = attribute.value
            } else if attribute.name.hasPrefix("xmlns:") {
                let prefix = String(attribute.name.dropFirst(6))
                guard !prefix.isEmpty, !prefix.contains(":"), prefix != "xmlns", !attribute.value.isEmpty else {
                    throw fail("bad namespace declaration \(attribute.name)")
                }
                namespaces[prefix] = attribute.value
            }
        }
        let name = try resolve(qualifiedName, in: namespaces, isAttribute: false)
        var attributes: [Element.Name: String] = [:]
        for attribute in rawAttributes where attribute.name != "xmlns" && !attribute.name.hasPrefix("xmlns:") {
            let attributeName = try resolve(attribute.name, in: namespaces, isAttribute: true)
            guard attributes.updateValue(attribute.value, forKey: attributeName) == nil else {
                throw fail("attribute \(attribute.name) given twice")
            }
        }
        var element = Element(name: name, attributes: attributes, children: [], text: "", namespaces: namespaces)
        guard !selfClosing else { return element }

        // Content, up to the matching end tag.
        var text: [UInt8] = []
        while true {
            guard position < bytes.count else { throw fail("unterminated element <\(qualifiedName)>") }
            if hasPrefix("</") {
                position += 2
                let closing = try readName()
                skipSpace()
                guard closing == qualifiedName, position < bytes.count, bytes[position] == UInt8(ascii: ">") else {
                    throw fail("</\(closing)> does not close <\(qualifiedName)>")
                }
                position += 1
                break
            } else if hasPrefix("<!--") {
                try skipComment()
            } else if hasPrefix("<![CDATA[") {
                guard let end = find("]]>", from: position + 9) else { throw fail("unterminated CDATA section") }
                text += bytes[(position + 9)..<end]
                position = end + 3
            } else if hasPrefix("<?") {
                try skipProcessingInstruction()
            } else if hasPrefix("<!") {
                throw fail("markup declarations are not accepted")
            } else if bytes[position] == UInt8(ascii: "<") {
                element.children.append(try readElement(depth: depth + 1, inherited: namespaces))
            } else if bytes[position] == UInt8(ascii: "&") {
                text += try readReference()
            } else {
                text.append(bytes[position])
                position += 1
            }
        }
        guard let decoded = String(validating: text, as: UTF8.self) else { throw fail("text of <\(qualifiedName)> is not UTF-8") }
        element.text = decoded
        return element
    }

    private func resolve(_ qualifiedName: String, in namespaces: [String: String], isAttribute: Bool) throws(Error) -> Element.Name {
        let parts = qualifiedName.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            // Unprefixed attributes are in no namespace; unprefixed elements in the default one.
            return Element.Name(namespace: isAttribute ? "" : namespaces[""] ?? "", local: qualifiedName)
        case 2 where !parts[0].isEmpty && !parts[1].isEmpty:
            guard let namespace = namespaces[String(parts[0])] else { throw fail("undeclared namespace prefix \(parts[0])") }
            return Element.Name(namespace: namespace, local: String(parts[1]))
        default:
            throw fail("bad name \(qualifiedName)")
        }
    }

    // MARK: Lexical pieces

    /// A name: ASCII letters, digits, `_ - . :`, and any non-ASCII byte (names in other scripts),
    /// not starting with a digit, `-` or `.`.
    private mutating func readName() throws(Error) -> String {
        let start = position
        while position < bytes.count, isNameByte(bytes[position]) { position += 1 }
        guard position > start else { throw fail("expected a name") }
        let first = bytes[start]
        guard !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first), first != UInt8(ascii: "-"), first != UInt8(ascii: ".") else {
            throw fail("a name cannot start with \(Character(Unicode.Scalar(first)))")
        }
        guard let name = String(validating: bytes[start..<position], as: UTF8.self) else { throw fail("name is not UTF-8") }
        return name
    }

    private func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"), 0x80...0xFF:
            true
        default:
            false
        }
    }

    private mutating func readAttributeValue() throws(Error) -> String {
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") || bytes[position] == UInt8(ascii: "'") else {
            throw fail("attribute value is not quoted")
        }
        let quote = bytes[position]
        position += 1
        var value: [UInt8] = []
        while true {
            guard position < bytes.count else { throw fail("unterminated attribute value") }
            let byte = bytes[position]
            if byte == quote {
                position += 1
                break
            } else if byte == UInt8(ascii: "<") {
                throw fail("< inside an attribute value")
            } else if byte == UInt8(ascii: "&") {
                value += try readReference()
            } else {
                value.append(byte)
                position += 1
            }
        }
        guard let text = String(validating: value, as: UTF8.self) else { throw fail("attribute value is not UTF-8") }
        return text
    }

    /// `&amp;` and the other predefined entities, or a character reference; UTF-8 of what it stands for.
    private mutating func readReference() throws(Error) -> [UInt8] {
        guard let end = find(";", from: position), end - position <= 10 else { throw fail("unterminated reference") }
        let body = String(decoding: bytes[(position + 1)..<end], as: UTF8.self)
        position = end + 1
        switch body {
        case "amp": return [UInt8(ascii: "&")]
        case "lt": return [UInt8(ascii: "<")]
        case "gt": return [UInt8(ascii: ">")]
        case "quot": return [UInt8(ascii: "\"")]
        case "apos": return [UInt8(ascii: "'")]
        default:
            let value: UInt32?
            if body.hasPrefix("#x") {
                value = UInt32(body.dropFirst(2), radix: 16)
            } else if body.hasPrefix("#") {
                value = UInt32(body.dropFirst(), radix: 10)
            } else {
                throw fail("unknown entity &\(body);")
            }
            guard let value, value != 0, let scalar = Unicode.Scalar(value) else { throw fail("bad character reference &\(body);") }
            return Array(String(Character(scalar)).utf8)
        }
    }

    private mutating func skipComment() throws(Error) {
        guard let end = find("-->", from: position + 4) else { throw fail("unterminated comment") }
        position = end + 3
    }

    private mutating func skipProcessingInstruction() throws(Error) {
        guard let end = find("?>", from: position + 2) else { throw fail("unterminated processing instruction") }
        position = end + 2
    }

    /// Skips whitespace; says whether there was any.
    @discardableResult
    private mutating func skipSpace() -> Bool {
        let start = position
        while isSpace(at: position) { position += 1 }
        return position > start
    }

    private func isSpace(at index: Int) -> Bool {
        guard index < bytes.count else { return false }
        let byte = bytes[index]
        return byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private func hasPrefix(_ text: String) -> Bool { hasPrefix(Array(text.utf8)) }

    private func hasPrefix(_ prefix: [UInt8]) -> Bool {
        guard bytes.count - position >= prefix.count else { return false }
        return bytes[position..<(position + prefix.count)].elementsEqual(prefix)
    }

    /// Where `needle` next starts at or after `start`.
    private func find(_ needle: String, from start: Int) -> Int? {
        let needle = Array(needle.utf8)
        guard start >= 0, bytes.count >= needle.count else { return nil }
        var index = start
        while index <= bytes.count - needle.count {
            if bytes[index] == needle[0], bytes[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    private func fail(_ reason: String) -> Error { Error(reason: reason, offset: position) }
}
