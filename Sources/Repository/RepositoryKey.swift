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
        let derived = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: material, info: Data("tidemark key fingerprint v1".utf8), outputByteCount: 16)
        fingerprint = derived.withUnsafeBytes { hexString($0) }
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

    /// Writes a new random key to a new file readable by its owner only: a temporary file,
    /// fsync, then a hard link to the final name (which fails rather than replace an
    /// existing key), then fsync of the folder.
    @discardableResult
    public static func generate(at path: String) throws(RepositoryError) -> RepositoryKey {
        if access(path, F_OK) == 0 {
            throw RepositoryError(.invalidInput, "the key file \(path) exists; a key is never overwritten")
        }
        let material = SymmetricKey(size: .bits256)
        let hex = Array((material.withUnsafeBytes { hexString($0) } + "\n").utf8)
        let folder = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        let temporary = folder + "/.tidemark-key-" + UUID().uuidString
        let descriptor = Glibc.open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw RepositoryError(.io, "cannot create a key file in \(folder): \(errnoText())")
        }
        defer { unlink(temporary) }
        let written = hex.withUnsafeBytes { write(descriptor, $0.baseAddress, hex.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == hex.count, synced else {
            throw RepositoryError(.io, "cannot write the key file \(path): \(errnoText())")
        }
        guard link(temporary, path) == 0 else {
            throw RepositoryError(
                errno == EEXIST ? .invalidInput : .io,
                errno == EEXIST
                    ? "the key file \(path) exists; a key is never overwritten" : "cannot create the key file \(path): \(errnoText())")
        }
        try DurableFile.syncDirectory(folder)
        return RepositoryKey(material: material)
    }

    /// The chunk's name in an encrypted repository.
    func name(_ block: UnsafeRawBufferPointer) -> ChunkID {
        ChunkID(bytes: Array(HMAC<SHA256>.authenticationCode(for: block, using: naming)))
    }

    /// AES-256-GCM with a random nonce, authenticating `context` (the chunk's name and
    /// header), so a chunk file copied under another name or with an edited header does not open.
    func seal(_ payload: [UInt8], context: [UInt8]) throws(RepositoryError) -> [UInt8] {
        guard let sealed = try? AES.GCM.seal(payload, using: sealing, authenticating: context).combined else {
            throw RepositoryError(.io, "cannot encrypt a chunk")
        }
        return Array(sealed)
    }

    func open(_ sealed: ArraySlice<UInt8>, context: [UInt8]) -> [UInt8]? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
            let payload = try? AES.GCM.open(box, using: sealing, authenticating: context)
        else { return nil }
        return Array(payload)
    }
}
