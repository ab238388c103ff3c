import Crypto
import Foundation

/// The key of an encrypted repository: 32 random bytes in a key file kept apart from it.
///
/// Two keys are derived from it (HKDF-SHA256): one names chunks (HMAC-SHA256 of the block,
/// so chunk names reveal nothing about content), one seals them (AES-256-GCM). The
/// repository records only the key's fingerprint, to tell a wrong key from damage.
public struct RepositoryKey: Sendable {
    // Raw bytes: swift-crypto's SymmetricKey is not Sendable.
    private let namingBytes: [UInt8]
    private let sealingBytes: [UInt8]
    public let fingerprint: String

    private var naming: SymmetricKey { SymmetricKey(data: namingBytes) }
    private var sealing: SymmetricKey { SymmetricKey(data: sealingBytes) }

    init(material: SymmetricKey) {
        func derive(_ info: String) -> [UInt8] {
            HKDF<SHA256>.deriveKey(inputKeyMaterial: material, info: Data(info.utf8), outputByteCount: 32)
                .withUnsafeBytes { Array($0) }
        }
        namingBytes = derive("tidemark chunk names v1")
        sealingBytes = derive("tidemark chunk contents v1")
        let derived = HKDF<SHA256>.deriveKey(inputKeyMaterial: material, info: Data("tidemark key fingerprint v1".utf8), outputByteCount: 16)
        fingerprint = derived.withUnsafeBytes { bytes in bytes.map { String(format: "%02x", $0) }.joined() }
    }

    /// Reads a key file: 64 hexadecimal digits (what `generate` writes) or 32 raw bytes.
    public init(contentsOf path: String) throws(RepositoryError) {
        guard let bytes = try DurableFile.read(path) else {
            throw RepositoryError(.invalidInput, "the key file \(path) does not exist")
        }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.utf8.count == 64, let raw = ChunkID(hex: text)?.bytes {
            self.init(material: SymmetricKey(data: raw))
        } else if bytes.count == 32 {
            self.init(material: SymmetricKey(data: bytes))
        } else {
            throw RepositoryError(
                .invalidInput,
                "the key file \(path) must hold 64 hexadecimal digits or 32 bytes; make one with 'tidemark repository generate-key FILE'")
        }
    }

    /// Writes a new random key to a new file readable by its owner only.
    @discardableResult
    public static func generate(at path: String) throws(RepositoryError) -> RepositoryKey {
        let material = SymmetricKey(size: .bits256)
        let hex = material.withUnsafeBytes { bytes in bytes.map { String(format: "%02x", $0) }.joined() } + "\n"
        let descriptor = Glibc.open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw RepositoryError(
                errno == EEXIST ? .invalidInput : .io,
                errno == EEXIST ? "the key file \(path) exists; a key is never overwritten" : "cannot create the key file \(path): \(errnoText())")
        }
        defer { close(descriptor) }
        let written = hex.utf8CString.withUnsafeBufferPointer { write(descriptor, $0.baseAddress, $0.count - 1) }
        guard written == hex.utf8.count, fsync(descriptor) == 0 else {
            throw RepositoryError(.io, "cannot write the key file \(path): \(errnoText())")
        }
        return RepositoryKey(material: material)
    }

    /// The chunk's name in an encrypted repository.
    func name(_ block: UnsafeRawBufferPointer) -> ChunkID {
        ChunkID(bytes: Array(HMAC<SHA256>.authenticationCode(for: block, using: naming)))
    }

    /// AES-256-GCM with a random nonce; the chunk's name is authenticated with it, so a chunk
    /// file copied under another name does not open.
    func seal(_ payload: [UInt8], as id: ChunkID) throws(RepositoryError) -> [UInt8] {
        do {
            return Array(try AES.GCM.seal(payload, using: sealing, authenticating: id.bytes).combined!)
        } catch {
            throw RepositoryError(.io, "cannot encrypt chunk \(id): \(error)")
        }
    }

    func open(_ sealed: ArraySlice<UInt8>, as id: ChunkID) -> [UInt8]? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
            let payload = try? AES.GCM.open(box, using: sealing, authenticating: id.bytes)
        else { return nil }
        return Array(payload)
    }
}
