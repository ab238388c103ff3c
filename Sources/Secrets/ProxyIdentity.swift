import Crypto
import Foundation

/// A proxy host's identity: an Ed25519 key pair whose private half stays in a file on that
/// host (`tidemark proxy key`, `tidemark proxy run --key-file`), and whose public half an
/// administrator enrols in the catalog (`tidemark proxy enrol`).
///
/// Why a key and not the database login: every proxy and the server reach the same database,
/// and a login is easily shared or guessed at; a key that never leaves its host, pinned by an
/// audited catalog change, is what lets the Job Manager tell the proxy it enrolled from anyone
/// else who registers under its name. Kept as raw bytes: the key type is not `Sendable`.
public struct ProxyIdentity: Sendable {
    private let privateKey: [UInt8]
    /// The public half (32 bytes), what `proxy enrol` pins.
    public let publicKey: [UInt8]

    private static let header = "tidemark proxy key v1"

    init(privateKey: [UInt8]) throws(SecretError) {
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: privateKey) else {
            throw SecretError(.damaged, "the proxy key is not an Ed25519 private key")
        }
        self.privateKey = privateKey
        self.publicKey = Array(key.publicKey.rawRepresentation)
    }

    /// A new identity, in memory only (tests; `load(orCreateAt:)` keeps one in a file).
    public static func generate() -> ProxyIdentity {
        // A fresh key's bytes are always a valid key.
        try! ProxyIdentity(privateKey: Array(Curve25519.Signing.PrivateKey().rawRepresentation))
    }

    /// The public key as `proxy enrol --public-key` takes it (base64).
    public var publicKeyText: String { Data(publicKey).base64EncodedString() }

    /// A short, stable name for the public key: `SHA256:` and the digest in base64, as ssh shows.
    public var fingerprint: String { Self.fingerprint(of: publicKey) }

    public static func fingerprint(of publicKey: [UInt8]) -> String {
        "SHA256:" + Data(SHA256.hash(data: publicKey)).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    /// The public key in `text` (base64 of 32 bytes), or nil.
    public static func publicKey(from text: String) -> [UInt8]? {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32,
            (try? Curve25519.Signing.PublicKey(rawRepresentation: data)) != nil
        else { return nil }
        return Array(data)
    }

    /// Signs `message` (the registration statement a Job Manager checks).
    public func sign(_ message: Data) -> [UInt8] {
        // The bytes were checked when this value was made.
        let key = try! Curve25519.Signing.PrivateKey(rawRepresentation: privateKey)
        return Array((try? key.signature(for: message)) ?? Data())
    }

    /// Whether `signature` is `publicKey`'s over `message`.
    public static func verify(_ signature: [UInt8], of message: Data, by publicKey: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(signature, for: message)
    }

    /// The identity kept at `path`, made there (mode 0600, in a folder made if missing) when
    /// no file exists yet; `created` says which. A file others can read, or that is not a key,
    /// is refused with what to do. Blocking file I/O: call it off the cooperative pool.
    public static func load(orCreateAt path: String) throws(SecretError) -> (identity: ProxyIdentity, created: Bool) {
        if access(path, F_OK) != 0 {
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty {
                try? FileManager.default.createDirectory(
                    atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            let identity = generate()
            // Written aside, then linked into place: of two commands making the key at once,
            // one links and the other finds its key and reads it below.
            let aside = path + ".new-\(getpid())"
            try PrivateFile.write(Data("\(header)\n\(Data(identity.privateKey).base64EncodedString())\n".utf8), to: aside)
            defer { unlink(aside) }
            if link(aside, path) == 0 { return (identity, true) }
            guard errno == EEXIST else {
                throw SecretError(.io, "cannot make the proxy key file \(path): \(String(cString: strerror(errno)))")
            }
        }
        let text = String(decoding: try PrivateFile.read(path, what: "the proxy key file"), as: UTF8.self)
        let lines = text.split(whereSeparator: \.isNewline).map(String.init)
        guard lines.count == 2, lines[0] == header, let raw = Data(base64Encoded: lines[1]), raw.count == 32,
            let identity = try? ProxyIdentity(privateKey: Array(raw))
        else {
            throw SecretError(
                .damaged,
                "the proxy key file \(path) is not a Tidemark proxy key: move it away to make a new key, then enrol the new key with 'tidemark proxy enrol'"
            )
        }
        return (identity, false)
    }
}
