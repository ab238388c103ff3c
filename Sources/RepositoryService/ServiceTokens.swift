import Crypto
import Foundation
import Repository

/// The tokens the service issued (`service/tokens.json`), one per backup server: issued on
/// the service's host by its administrator (`tidemark repository serve --issue-token`), shown
/// once, and kept only as the SHA-256 of the token. That digest is the key a client signs its
/// requests with, so the token itself never crosses the network, and a request seen on the
/// wire can be neither changed nor sent again (see ``RequestSignature``).
public struct ServiceTokens: Sendable {
    public struct Issued: Codable, Sendable, Equatable {
        /// The token's visible start (`tmr_1a2b3c4d`), named in the journal and in requests.
        public var prefix: String
        /// SHA-256 of the whole token, hex.
        public var sha256: String
        public var label: String
        public var issuedAt: Date

        enum CodingKeys: String, CodingKey {
            case prefix, sha256, label
            case issuedAt = "issued_at"
        }
    }

    public private(set) var issued: [Issued]

    /// A new token: `tmr_` and 64 hex digits (256 random bits).
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return "tmr_" + hexString((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// The visible start of a token: `tmr_` and its first 8 hex digits.
    public static func prefix(of token: String) -> String? {
        guard token.hasPrefix("tmr_"), token.utf8.count == 68, token.dropFirst(4).allSatisfy(\.isHexDigit) else { return nil }
        return String(token.prefix(12))
    }

    /// The key a client signs with, and the service keeps: SHA-256 of the token.
    public static func signingKey(of token: String) -> SymmetricKey {
        SymmetricKey(data: SHA256.hash(data: Data(token.utf8)))
    }

    /// The key of the token starting `prefix`, when the service issued one.
    func key(prefix: String) -> SymmetricKey? {
        guard let entry = issued.first(where: { $0.prefix == prefix }), let bytes = Self.bytes(hex: entry.sha256) else { return nil }
        return SymmetricKey(data: bytes)
    }

    static func load(_ path: String) throws(RepositoryServiceError) -> ServiceTokens {
        ServiceTokens(issued: try ServiceFile.read([Issued].self, from: path, what: "the service's token list") ?? [])
    }

    /// Adds a token for `label` and saves the list (mode 600); the token, to show once.
    mutating func issue(label: String, at now: Date, saveTo path: String) throws(RepositoryServiceError) -> String {
        guard !label.isEmpty, label.utf8.count <= 200, !label.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw RepositoryServiceError(
                .invalidInput, "a token's label is one line of 1 to 200 characters, such as the backup server's name")
        }
        let token = Self.generate()
        let digest = hexString(SHA256.hash(data: Data(token.utf8)))
        issued.append(Issued(prefix: Self.prefix(of: token)!, sha256: digest, label: label, issuedAt: now))
        try ServiceFile.write(issued, to: path, what: "the token list", mode: 0o600)
        return token
    }

    static func bytes(hex: String) -> [UInt8]? {
        guard hex.utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
