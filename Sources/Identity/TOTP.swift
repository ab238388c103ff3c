import Crypto
import Foundation

/// Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), the
/// second factor of a password sign-in, as authenticator apps and `oathtool --totp` compute
/// them. The secret is 160 random bits, kept sealed in the server host's credential store,
/// never in the log.
public struct TOTP: Sendable {
    public let secret: [UInt8]
    public static let step: TimeInterval = 30
    public static let digits = 6

    public init(secret: [UInt8]) {
        self.secret = secret
    }

    public static func generate() -> TOTP {
        var generator = SystemRandomNumberGenerator()
        return TOTP(secret: (0..<20).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// The code for time step `counter` (RFC 4226's HOTP of the step).
    public func code(counter: UInt64) -> String {
        let message = withUnsafeBytes(of: counter.bigEndian) { Array($0) }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: secret)))
        let offset = Int(mac[mac.count - 1] & 0x0f)
        let binary =
            (UInt32(mac[offset] & 0x7f) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        let value = binary % 1_000_000
        let text = String(value)
        return String(repeating: "0", count: Self.digits - text.count) + text
    }

    public static func counter(at date: Date) -> UInt64 { UInt64(max(0, date.timeIntervalSince1970) / step) }

    /// The step `presented` matches, trying the current one and one on either side (a clock
    /// half a minute off); nil when none does. Compared in constant time.
    public func matchingStep(_ presented: String, at date: Date) -> UInt64? {
        guard presented.count == Self.digits, presented.allSatisfy(\.isASCII), presented.allSatisfy(\.isNumber) else { return nil }
        let now = Self.counter(at: date)
        var found: UInt64?
        for counter in [now &- 1, now, now &+ 1] where Self.equal(code(counter: counter), presented) { found = counter }
        return found
    }

    static func equal(_ left: String, _ right: String) -> Bool {
        let a = Array(left.utf8), b = Array(right.utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// The secret in base32 (RFC 4648, no padding), as authenticator apps and oathtool take it.
    public var base32: String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var output = "", buffer = 0, bits = 0
        for byte in secret {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                output.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        if bits > 0 { output.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return output
    }

    /// Reads a base32 secret back (what the credential store keeps).
    public init?(base32 text: String) {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var bytes: [UInt8] = [], buffer = 0, bits = 0
        for character in text.uppercased() where character != "=" {
            guard let value = alphabet.firstIndex(of: character) else { return nil }
            buffer = (buffer << 5) | value
            bits += 5
            if bits >= 8 {
                bytes.append(UInt8((buffer >> (bits - 8)) & 0xff))
                bits -= 8
            }
        }
        guard !bytes.isEmpty else { return nil }
        self.secret = bytes
    }

    /// `otpauth://totp/Tidemark:NAME?secret=...&issuer=Tidemark`, for an authenticator app.
    public func provisioningURL(user: String) -> String {
        let account = user.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._@"))) ?? user
        return "otpauth://totp/Tidemark:\(account)?secret=\(base32)&issuer=Tidemark&algorithm=SHA1&digits=6&period=30"
    }
}
