import Crypto
import Foundation

/// Seals a managed server's login to one proxy process for one task.
///
/// A proxy process makes a Curve25519 key pair when it starts and keeps the private key in
/// memory only; the public key is in its registration. The Job Manager seals the login with a
/// key agreed between a fresh ephemeral key and the process's public key (X25519, then
/// HKDF-SHA256 bound to the session, task and fencing token), ChaCha20-Poly1305. So the login
/// crosses the database as ciphertext that only that process, while it runs, can open; the
/// row's copy is erased when the task ends, and a process that restarts has another key.
public enum CredentialSeal {
    /// What the seal is bound to: a sealed login cannot be replayed for another task.
    public struct Binding: Sendable {
        public let session: String
        public let task: String
        public let token: Int64

        public init(session: String, task: String, token: Int64) {
            self.session = session
            self.task = task
            self.token = token
        }

        var info: Data { Data("tidemark proxy credentials v1 \(session) \(task) \(token)".utf8) }
    }

    /// A process's key pair (the private half never leaves the process's memory), as raw
    /// bytes: the key type is not `Sendable`, and the process's tasks share it.
    public struct KeyPair: Sendable {
        let privateKey: [UInt8]
        public let publicKey: [UInt8]

        public init() {
            let key = Curve25519.KeyAgreement.PrivateKey()
            privateKey = Array(key.rawRepresentation)
            publicKey = Array(key.publicKey.rawRepresentation)
        }
    }

    /// The ephemeral public key (32 bytes) followed by the sealed box (nonce, ciphertext, tag).
    public static func seal(
        _ credentials: HandedOverCredentials, to publicKey: [UInt8], for binding: Binding
    ) throws(JobManagerError) -> [UInt8] {
        do {
            let recipient = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: publicKey)
            let ephemeral = Curve25519.KeyAgreement.PrivateKey()
            let key = try symmetricKey(
                ephemeral.sharedSecretFromKeyAgreement(with: recipient), ephemeral: ephemeral.publicKey.rawRepresentation,
                recipient: publicKey, binding: binding)
            let box = try ChaChaPoly.seal(try JSONEncoder().encode(credentials), using: key)
            return Array(ephemeral.publicKey.rawRepresentation) + Array(box.combined)
        } catch {
            throw JobManagerError(
                .invalidJob, "could not seal the login for proxy task \(binding.task): the proxy's public key is unusable")
        }
    }

    /// Opens what `seal` made for this process and binding; refused when it was made for
    /// another key or another task.
    public static func open(
        _ sealed: [UInt8], with pair: KeyPair, for binding: Binding
    ) throws(JobManagerError) -> HandedOverCredentials {
        guard sealed.count > 32 else {
            throw JobManagerError(.invalidJob, "the login sealed for task \(binding.task) is truncated")
        }
        do {
            let key = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: pair.privateKey)
            let ephemeral = Data(sealed.prefix(32))
            let sender = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: ephemeral)
            let symmetric = try symmetricKey(
                key.sharedSecretFromKeyAgreement(with: sender), ephemeral: ephemeral, recipient: Array(key.publicKey.rawRepresentation),
                binding: binding)
            let plain = try ChaChaPoly.open(try ChaChaPoly.SealedBox(combined: Data(sealed.dropFirst(32))), using: symmetric)
            return try JSONDecoder().decode(HandedOverCredentials.self, from: plain)
        } catch {
            throw JobManagerError(
                .invalidJob,
                "the login sealed for task \(binding.task) cannot be opened with this process's key (sealed for another process or task)")
        }
    }

    private static func symmetricKey<Ephemeral: ContiguousBytes>(
        _ shared: SharedSecret, ephemeral: Ephemeral, recipient: [UInt8], binding: Binding
    ) throws -> SymmetricKey {
        var salt = ephemeral.withUnsafeBytes { Data($0) }
        salt.append(contentsOf: recipient)
        return shared.hkdfDerivedSymmetricKey(using: SHA256.self, salt: salt, sharedInfo: binding.info, outputByteCount: 32)
    }
}
