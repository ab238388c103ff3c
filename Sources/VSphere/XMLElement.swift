import CodedErrors

/// One element of a SOAP response, namespace prefixes dropped (`soapenv:Body` is `Body`), with
/// its attributes (`xsi:type` kept apart from a plain `type`), its child elements and its text.
///
/// vSphere's responses are data, not documents: no DTDs, no mixed content that matters. A small
/// tree parser over the bytes is all the adapter needs, and ten thousand VMs parse in a blink.
public struct XMLElement: Sendable {
    public let name: String
    public let attributes: [String: String]
    public var children: [XMLElement]
    public var text: String

    /// The first child of that name.
    public subscript(_ child: String) -> XMLElement? {
        children.first { $0.name == child }
    }

    public func all(_ child: String) -> [XMLElement] {
        children.filter { $0.name == child }
    }

    /// The `xsi:type` attribute, which names the concrete type of a polymorphic value (a fault,
    /// a device, a property value).
    public var type: String? { attributes["xsi:type"] }

    /// The text of a path of children: `element.value("info", "state")`.
    public func value(_ path: String...) -> String? {
        var current = self
        for name in path {
            guard let next = current[name] else { return nil }
            current = next
        }
        return current.text
    }
}

/// A response that is not well-formed XML, with where it went wrong.
public struct XMLSyntaxError: CodedError {
    public let offset: Int
    public let reason: String
    /// One code: the parser finds one kind of fault, and `reason` says which.
    public var codeName: String { "malformed XML" }
    public var message: String { "malformed XML at byte \(offset): \(reason)" }
}

/// Parses a whole XML document into its root element.
public enum XMLTreeParser {
    public static func parse(_ bytes: [UInt8]) throws(XMLSyntaxError) -> XMLElement {
        var parser = Parser(bytes: bytes)
        return try parser.document()
    }

    public static func parse(_ text: String) throws(XMLSyntaxError) -> XMLElement {
        try parse(Array(text.utf8))
    }
}

private struct Parser {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() throws(XMLSyntaxError) -> XMLElement {
        var stack: [XMLElement] = []
        var root: XMLElement?
        while position < bytes.count {
            if bytes[position] != UInt8(ascii: "<") {
                let start = position
                while position < bytes.count && bytes[position] != UInt8(ascii: "<") { position += 1 }
                if !stack.isEmpty {
                    stack[stack.count - 1].text += try decode(start, position)
                }
                continue
            }
            if starts(with: "<?") {
                try skip(past: "?>")
            } else if starts(with: "<!--") {
                try skip(past: "-->")
            } else if starts(with: "<![CDATA[") {
                position += 9
                let start = position
                try skip(past: "]]>")
                if !stack.isEmpty {
                    stack[stack.count - 1].text += String(decoding: bytes[start..<(position - 3)], as: UTF8.self)
                }
            } else if starts(with: "<!") {
                try skip(past: ">")
            } else if starts(with: "</") {
                position += 2
                let name = localName(readName())
                skipSpace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ">") else { throw error("'>' expected after </\(name)") }
                position += 1
                guard let element = stack.popLast() else { throw error("</\(name)> closes nothing") }
                guard element.name == name else { throw error("</\(name)> closes <\(element.name)>") }
                if stack.isEmpty {
                    root = element
                } else {
                    stack[stack.count - 1].children.append(element)
                }
            } else {
                position += 1
                let name = localName(readName())
                guard !name.isEmpty else { throw error("an element name expected after '<'") }
                var attributes: [String: String] = [:]
                while true {
                    skipSpace()
                    guard position < bytes.count else { throw error("the document ends inside <\(name)>") }
                    if bytes[position] == UInt8(ascii: "/") || bytes[position] == UInt8(ascii: ">") { break }
                    let attribute = readName()
                    skipSpace()
                    guard !attribute.isEmpty, position < bytes.count, bytes[position] == UInt8(ascii: "=") else {
                        throw error("an attribute of <\(name)> has no value")
                    }
                    position += 1
                    skipSpace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") || bytes[position] == UInt8(ascii: "'") else {
                        throw error("the attribute \(attribute) of <\(name)> is not quoted")
                    }
                    let quote = bytes[position]
                    position += 1
                    let start = position
                    while position < bytes.count && bytes[position] != quote { position += 1 }
                    guard position < bytes.count else { throw error("the attribute \(attribute) of <\(name)> is not closed") }
                    attributes[attributeKey(attribute)] = try decode(start, position)
                    position += 1
                }
                let element = XMLElement(name: name, attributes: attributes, children: [], text: "")
                if bytes[position] == UInt8(ascii: "/") {
                    position += 1
                    guard position < bytes.count, bytes[position] == UInt8(ascii: ">") else {
                        throw error("'>' expected after '/' in <\(name)")
                    }
                    position += 1
                    if stack.isEmpty { root = element } else { stack[stack.count - 1].children.append(element) }
                } else {
                    position += 1
                    stack.append(element)
                }
            }
        }
        if let open = stack.last { throw error("the document ends inside <\(open.name)>") }
        guard let root else { throw error("no element") }
        return root
    }

    func error(_ reason: String) -> XMLSyntaxError { XMLSyntaxError(offset: position, reason: reason) }

    func starts(with prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard position + count <= bytes.count else { return false }
        let start = prefix.utf8Start
        for index in 0..<count where bytes[position + index] != start[index] { return false }
        return true
    }

    mutating func skip(past terminator: StaticString) throws(XMLSyntaxError) {
        while position < bytes.count {
            if starts(with: terminator) {
                position += terminator.utf8CodeUnitCount
                return
            }
            position += 1
        }
        throw error("'\(terminator)' expected before the end")
    }

    mutating func skipSpace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    mutating func readName() -> String {
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "/")
                || byte == UInt8(ascii: "=")
            {
                break
            }
            position += 1
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    func localName(_ name: String) -> String {
        guard let colon = name.lastIndex(of: ":") else { return name }
        return String(name[name.index(after: colon)...])
    }

    /// An attribute's key: as written, but any prefixed `type` is the schema instance's `xsi:type`.
    func attributeKey(_ name: String) -> String {
        name.hasSuffix(":type") && !name.hasPrefix("xmlns") ? "xsi:type" : name
    }

    /// Text with its entity references replaced.
    func decode(_ start: Int, _ end: Int) throws(XMLSyntaxError) -> String {
        guard bytes[start..<end].contains(UInt8(ascii: "&")) else {
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }
        var output: [UInt8] = []
        output.reserveCapacity(end - start)
        var index = start
        while index < end {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "&") else {
                output.append(byte)
                index += 1
                continue
            }
            guard let semicolon = bytes[index..<end].firstIndex(of: UInt8(ascii: ";")) else {
                throw XMLSyntaxError(offset: index, reason: "an entity reference without ';'")
            }
            let entity = String(decoding: bytes[(index + 1)..<semicolon], as: UTF8.self)
            switch entity {
            case "lt": output.append(UInt8(ascii: "<"))
            case "gt": output.append(UInt8(ascii: ">"))
            case "amp": output.append(UInt8(ascii: "&"))
            case "quot": output.append(UInt8(ascii: "\""))
            case "apos": output.append(UInt8(ascii: "'"))
            default:
                let scalar: UInt32?
                if entity.hasPrefix("#x") {
                    scalar = UInt32(entity.dropFirst(2), radix: 16)
                } else if entity.hasPrefix("#") {
                    scalar = UInt32(entity.dropFirst())
                } else {
                    scalar = nil
                }
                guard let scalar, let character = Unicode.Scalar(scalar) else {
                    throw XMLSyntaxError(offset: index, reason: "unknown entity &\(entity);")
                }
                output.append(contentsOf: Array(String(Character(character)).utf8))
            }
            index = semicolon + 1
        }
        return String(decoding: output, as: UTF8.self)
    }
}

/// Escapes text for an element or a double-quoted attribute.
func xmlEscaped(_ text: String) -> String {
    var result = ""
    result.reserveCapacity(text.utf8.count)
    for character in text {
        switch character {
        case "<": result += "&lt;"
        case ">": result += "&gt;"
        case "&": result += "&amp;"
        case "\"": result += "&quot;"
        case "'": result += "&apos;"
        default: result.append(character)
        }
    }
    return result
}
