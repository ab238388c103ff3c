import Crypto
import EventStore
import Foundation

/// An API token: `tm_` + 8 hex characters (the prefix, visible in lists, logs and the audit
/// trail) + `_` + 43 characters of base64url (256 random bits). Only its SHA-256 is stored; the
/// token is shown once, when issued.
public struct APIToken: Sendable {
    public let text: String
    public let prefix: String

    /// A new token from the system's random generator.
    public static func generate() -> APIToken {
        var generator = SystemRandomNumberGenerator()
        let prefixBytes = (0..<4).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let prefix = "tm_" + prefixBytes.hexString
        let encoded = Data(secret).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return APIToken(text: prefix + "_" + encoded, prefix: prefix)
    }

    /// The prefix of a presented token, or nil when it does not have a token's shape (nothing
    /// is looked up for it).
    public static func prefix(of presented: String) -> String? {
        let parts = presented.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0] == "tm", parts[1].count == 8,
            parts[1].allSatisfy({ $0.isHexDigit && !$0.isUppercase }), presented.count == 55
        else { return nil }
        return "tm_" + parts[1]
    }

    /// SHA-256 of a token, hex.
    public static func sha256(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).hexString
    }

    /// Compares two digests in time that does not depend on where they differ.
    public static func same(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8)
        let right = Array(b.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }

    /// `90d`, `12h`, `30m`: how long a token lives. At most 3 years; no token lives for ever.
    public static func lifetime(_ text: String) throws(IdentityError) -> TimeInterval {
        let units: [Character: TimeInterval] = ["m": 60, "h": 3_600, "d": 86_400]
        guard let unit = text.last.flatMap({ units[$0] }), let count = Int(text.dropLast()), count > 0 else {
            throw IdentityError(.invalid, "'\(text)' is not a lifetime: a number and m, h or d (30m, 12h, 90d)")
        }
        let seconds = TimeInterval(count) * unit
        guard seconds <= 3 * 366 * 86_400 else {
            throw IdentityError(.invalid, "a token lives at most 3 years (1098d); '\(text)' is longer")
        }
        return seconds
    }
}
