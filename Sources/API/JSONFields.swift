import Catalog
import Foundation

/// A JSON object read key by key for a request body that is not a catalog document (a restore,
/// a publish): each value checked for its type with the key's path in the error, and, at the
/// end, every key nobody read refused with the one it probably meant, so a misspelled
/// `power_on` is a 400, not a restore that quietly leaves the VM off.
struct JSONFields {
    let path: String
    private let object: [String: Any]
    private var read: Set<String> = []

    init(_ object: [String: Any], path: String = "") {
        self.object = object
        self.path = path
    }

    /// The body, parsed: 400 with the line and column when it is not a JSON object.
    init(body text: String) throws {
        try DefinitionBody.checkJSON(text, example: #"send one object, {"key": value, ...}"#)
        self.init(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:])
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private mutating func value(_ key: String) -> Any? {
        read.insert(key)
        guard let value = object[key], !(value is NSNull) else { return nil }
        return value
    }

    /// A one-line text of 1 to 1,024 bytes, or nil when absent.
    mutating func string(_ key: String) throws -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value as? String else { throw APIProblem.badRequest("'\(name(key))' is a string") }
        guard !text.isEmpty, text.utf8.count <= 1024, !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
        else { throw APIProblem.badRequest("'\(name(key))' must be 1 to 1024 bytes on one line, without control characters") }
        return text
    }

    /// A setting that can be cleared: absent is nil (unchanged), null or "" is `.some(nil)`.
    mutating func clearable(_ key: String) throws -> String?? {
        read.insert(key)
        guard let value = object[key] else { return nil }
        if value is NSNull || (value as? String)?.isEmpty == true { return .some(nil) }
        return .some(try string(key))
    }

    mutating func requiredString(_ key: String, _ hint: String) throws -> String {
        guard let text = try string(key) else {
            // A misspelling of it says so, rather than that it is missing.
            if let typo = object.keys.sorted().first(where: {
                !read.contains($0) && $0.utf8.count <= 64 && Spelling.nearest(to: $0, among: [key]) == key
            }) {
                throw APIProblem.badRequest("'\(name(String(typo.prefix(64))))' is not a field here (did you mean '\(key)'?)")
            }
            throw APIProblem.badRequest("'\(name(key))' is missing: \(hint)")
        }
        return text
    }

    mutating func bool(_ key: String) throws -> Bool {
        guard let value = value(key) else { return false }
        // NSNumber bridges 0 and 1 to Bool too: only JSON's true and false are booleans here.
        guard let number = value as? NSNumber, Self.isBoolean(number) else {
            throw APIProblem.badRequest("'\(name(key))' is true or false")
        }
        return number.boolValue
    }

    mutating func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let value = value(key) else { return nil }
        // int64Value with a check it is exact: a double's 53 bits would round larger numbers.
        guard let number = value as? NSNumber, !Self.isBoolean(number), Double(number.int64Value) == number.doubleValue,
            let integer = Int(exactly: number.int64Value), range.contains(integer)
        else { throw APIProblem.badRequest("'\(name(key))' is a whole number from \(range.lowerBound) to \(range.upperBound)") }
        return integer
    }

    /// A list of 1 (0 with `allowEmpty`) to `maximum` strings, each checked as ``string(_:)``.
    mutating func strings(_ key: String, maximum: Int, allowEmpty: Bool = false) throws -> [String]? {
        guard let value = value(key) else { return nil }
        guard let items = value as? [Any], ((allowEmpty ? 0 : 1)...maximum).contains(items.count) else {
            throw APIProblem.badRequest("'\(name(key))' is a list of \(allowEmpty ? 0 : 1) to \(maximum) strings")
        }
        return try items.enumerated().map { index, item in
            var one = JSONFields(["item": item], path: "\(name(key))[\(index)]")
            guard let text = try one.string("item") else { throw APIProblem.badRequest("'\(name(key))[\(index)]' is a string") }
            return text
        }
    }

    /// An object of strings to strings (a network map).
    mutating func stringMap(_ key: String) throws -> [String: String] {
        guard let value = value(key) else { return [:] }
        guard let map = value as? [String: Any], map.count <= 100 else {
            throw APIProblem.badRequest("'\(name(key))' is an object of at most 100 names to names")
        }
        var fields = JSONFields(map, path: name(key))
        var result: [String: String] = [:]
        for source in map.keys.sorted() {
            _ = try APIRequest.text(source, "a key of \(name(key))")
            result[source] = try fields.requiredString(source, "give the target's network")
        }
        return result
    }

    mutating func object(_ key: String) throws -> JSONFields? {
        guard let value = value(key) else { return nil }
        guard let object = value as? [String: Any] else { throw APIProblem.badRequest("'\(name(key))' is an object") }
        return JSONFields(object, path: name(key))
    }

    /// JSONSerialization reads `true` and `false` as NSNumbers of C type `char` ("c"), and
    /// numbers as integers or doubles.
    static func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

    /// Refuses keys nobody read, naming the closest known one.
    func finish() throws {
        for key in object.keys.sorted() where !read.contains(key) {
            // A long key is nobody's misspelling, and comparing it costs its length squared.
            let suggestion =
                key.utf8.count > 64 ? "" : Spelling.nearest(to: key, among: Array(read)).map { " (did you mean '\($0)'?)" } ?? ""
            throw APIProblem.badRequest(
                "'\(name(String(key.prefix(64))))' is not a field here\(suggestion): the fields are \(read.sorted().joined(separator: ", "))"
            )
        }
    }
}
