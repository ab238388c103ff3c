import Crypto
import Foundation
import Repository
import Synchronization

/// How a backup server signs each request to the repository service, and how the service
/// checks it:
///
///     Authorization: Tidemark-HMAC-SHA256 token=tmr_1a2b3c4d, date=1764800000, nonce=<32 hex>, signature=<64 hex>
///
/// `signature` is HMAC-SHA256, keyed with SHA-256 of the token, over the method, the path
/// with its query, the date (Unix seconds), the nonce and the SHA-256 of the body, one per
/// line. The service refuses a date more than five minutes off its clock and a nonce it has
/// seen in the last ten minutes: a request copied off the wire cannot be sent again, nor
/// changed, and the token itself is never sent.
public enum RequestSignature {
    public static let scheme = "Tidemark-HMAC-SHA256"
    /// How far a request's date may be from the service's clock.
    public static let allowedSkew: TimeInterval = 300

    /// The `Authorization` header's value for a request.
    public static func header(token: String, method: String, path: String, body: some DataProtocol, date: Date = Date()) -> String {
        let seconds = Int64(date.timeIntervalSince1970)
        var generator = SystemRandomNumberGenerator()
        let nonce = hexString((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let code = HMAC<SHA256>.authenticationCode(
            for: signed(method: method, path: path, date: seconds, nonce: nonce, body: body), using: ServiceTokens.signingKey(of: token))
        let signature = hexString(code)
        return "\(scheme) token=\(ServiceTokens.prefix(of: token) ?? ""), date=\(seconds), nonce=\(nonce), signature=\(signature)"
    }

    /// What a header says, before it is checked.
    public struct Parts: Sendable, Equatable {
        public var token: String
        public var date: Int64
        public var nonce: String
        public var signature: String
    }

    /// The header's parts; nil when it is not this scheme's, or a part is missing or malformed.
    public static func parse(_ header: String) -> Parts? {
        guard header.hasPrefix(scheme + " ") else { return nil }
        var fields: [String: String] = [:]
        for part in header.dropFirst(scheme.count + 1).split(separator: ",") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, fields[pair[0]] == nil else { return nil }
            fields[pair[0]] = pair[1]
        }
        guard let token = fields["token"], token.utf8.count == 12, let dateText = fields["date"], let date = Int64(dateText),
            let nonce = fields["nonce"], nonce.utf8.count == 32, nonce.allSatisfy(\.isHexDigit),
            let signature = fields["signature"], signature.utf8.count == 64, signature.allSatisfy(\.isHexDigit)
        else { return nil }
        return Parts(token: token, date: date, nonce: nonce.lowercased(), signature: signature.lowercased())
    }

    /// What the signature covers: method, path with query, date, nonce and the body's SHA-256, one per line.
    static func signed(method: String, path: String, date: Int64, nonce: String, body: some DataProtocol) -> Data {
        Data("\(method)\n\(path)\n\(date)\n\(nonce)\n\(hexString(SHA256.hash(data: body)))".utf8)
    }

    /// Checks a signed request: nil when it holds, else why not (for the journal; the client
    /// is told only 401 and that reason).
    static func check(
        _ parts: Parts, key: SymmetricKey?, method: String, path: String, body: some DataProtocol, now: Date, nonces: NonceLedger
    ) -> String? {
        guard let key else { return "unknown token \(parts.token)" }
        guard abs(now.timeIntervalSince1970 - Double(parts.date)) <= allowedSkew else {
            return "the request's date is more than \(Int(allowedSkew)) s from the service's clock: check both hosts' time"
        }
        // swift-crypto compares the codes in constant time.
        guard let code = ServiceTokens.bytes(hex: parts.signature),
            HMAC<SHA256>.isValidAuthenticationCode(
                code, authenticating: signed(method: method, path: path, date: parts.date, nonce: parts.nonce, body: body), using: key)
        else { return "bad signature (a wrong token, or a changed request)" }
        guard nonces.admit(parts.nonce, at: now) else { return "replayed request (its nonce was used already)" }
        return nil
    }
}
