import Crypto
import Foundation

/// Named credentials (a user and a password) kept out of the catalog and the log: sealed
/// with AES-256-GCM under a key file only the service account can read, one file per name,
/// referenced from the catalog as `credential:NAME`. The catalog holds the name; the secret
/// never leaves this folder but to the server it was made for.
public struct CredentialStore: Sendable {
    public struct Credential: Sendable, Equatable {
        public let user: String?
        public let secret: String

        public init(user: String?, secret: String) {
            self.user = user
            self.secret = secret
        }
    }

    private struct Sealed: Codable {
        var user: String?
        var secret: String
    }

    public let folder: String
    var keyPath: String { folder + "/store.key" }

    public init(folder: String) {
        self.folder = folder
    }

    /// 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit.
    public static func checkName(_ name: String) throws(SecretError) {
        let allowed = name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)
        }
        guard allowed, (1...64).contains(name.count), name.first?.isLetter == true || name.first?.isNumber == true else {
            throw SecretError(.invalidName, "a credential name is 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
    }

    /// Stores (or replaces) a credential.
    public func add(_ name: String, _ credential: Credential) throws(SecretError) {
        try Self.checkName(name)
        guard !credential.secret.isEmpty else { throw SecretError(.damaged, "the password of credential '\(name)' is empty") }
        let key = try loadKey(creating: true)
        let plain: Data
        do {
            plain = try JSONEncoder().encode(Sealed(user: credential.user, secret: credential.secret))
        } catch {
            throw SecretError(.io, "cannot encode credential '\(name)'")
        }
        let box: AES.GCM.SealedBox
        do {
            box = try AES.GCM.seal(plain, using: key, authenticating: Data(name.utf8))
        } catch {
            throw SecretError(.io, "cannot seal credential '\(name)'")
        }
        guard let combined = box.combined else { throw SecretError(.io, "cannot seal credential '\(name)'") }
        try PrivateFile.write(combined, to: path(of: name))
    }

    /// The credential, unsealed.
    public func read(_ name: String) throws(SecretError) -> Credential {
        try Self.checkName(name)
        let file = path(of: name)
        guard FileManager.default.fileExists(atPath: file) else {
            let known = (try? names()) ?? []
            throw SecretError(
                .notFound,
                "no credential is named '\(name)'\(known.isEmpty ? "" : " (known: \(known.joined(separator: ", ")))"): add it with 'tidemark credentials add \(name) --user USER'"
            )
        }
        let key = try loadKey(creating: false)
        let data = try PrivateFile.read(file, what: "the credential file")
        do {
            let opened = try AES.GCM.open(try AES.GCM.SealedBox(combined: data), using: key, authenticating: Data(name.utf8))
            let sealed = try JSONDecoder().decode(Sealed.self, from: opened)
            return Credential(user: sealed.user, secret: sealed.secret)
        } catch {
            throw SecretError(
                .damaged, "credential '\(name)' cannot be opened with this store's key (damaged, or sealed under another key): add it again"
            )
        }
    }

    /// Removes a credential; false if there was none.
    @discardableResult
    public func remove(_ name: String) throws(SecretError) -> Bool {
        try Self.checkName(name)
        return unlink(path(of: name)) == 0
    }

    /// The names stored, sorted.
    public func names() throws(SecretError) -> [String] {
        guard FileManager.default.fileExists(atPath: folder) else { return [] }
        try PrivateFile.privateFolder(folder)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return files.filter { $0.hasSuffix(".sealed") }.map { String($0.dropLast(7)) }.sorted()
    }

    private func path(of name: String) -> String { "\(folder)/\(name).sealed" }

    /// The store's key: 32 random bytes, made with the folder on first use.
    private func loadKey(creating: Bool) throws(SecretError) -> SymmetricKey {
        if creating {
            try PrivateFile.privateFolder(folder)
            if !FileManager.default.fileExists(atPath: keyPath) {
                try PrivateFile.write(SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }, to: keyPath)
            }
        } else {
            try PrivateFile.privateFolder(folder)
        }
        let bytes = try PrivateFile.read(keyPath, what: "the credential store's key")
        guard bytes.count == 32 else { throw SecretError(.damaged, "the credential store's key \(keyPath) is not 32 bytes") }
        return SymmetricKey(data: bytes)
    }
}
