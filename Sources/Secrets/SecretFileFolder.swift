import Foundation

/// The one folder whose files a `file:` password reference may name. Anyone who can write
/// the catalog chooses the path, and the server reads it and sends its contents to the
/// vCenter URL the same person chose: without this limit a catalog writer reads any file the
/// service can (an attack that sent a shadow-like file to a fake vCenter). A file must lie
/// inside the folder after its links are resolved and be the service's own (`PrivateFile`).
public struct SecretFileFolder: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Reads the secret a `file:` reference names (one trailing newline dropped).
    /// `what` names the secret in errors ("password file", "token file").
    public func read(_ file: String, what: String = "password file") throws(SecretError) -> String {
        let folder = PrivateFile.realPath(path) ?? (path as NSString).standardizingPath
        guard let real = PrivateFile.realPath(file) else {
            throw SecretError(.notFound, "the \(what) \(file) does not exist or cannot be reached")
        }
        guard real.hasPrefix(folder + "/") else {
            throw SecretError(
                .outsideFolder,
                "the \(what) \(file) is not in the secrets folder \(path): \(what)s must be kept there, owned by the service's account, mode 600"
            )
        }
        var value = String(decoding: try PrivateFile.read(real, what: "the \(what)"), as: UTF8.self)
        if value.hasSuffix("\r\n") { value.removeLast(2) } else if value.hasSuffix("\n") { value.removeLast() }
        guard !value.isEmpty else { throw SecretError(.damaged, "the \(what) \(file) is empty") }
        return value
    }
}
