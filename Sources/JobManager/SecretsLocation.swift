import Catalog
import Foundation
import Secrets

/// Where the service keeps secrets on its own host: the credential store of `tidemark
/// credentials add`, and the only folder a `file:` reference may name. Both under the data
/// folder unless configured otherwise.
public struct SecretsLocation: Sendable {
    public var credentials: CredentialStore
    public var files: SecretFileFolder

    public init(credentials: CredentialStore, files: SecretFileFolder) {
        self.credentials = credentials
        self.files = files
    }

    /// `<data folder>/credentials` and `<data folder>/secrets`.
    public init(dataDirectory: String) {
        self.init(
            credentials: CredentialStore(folder: dataDirectory + "/credentials"), files: SecretFileFolder(path: dataDirectory + "/secrets"))
    }
}

extension SecretReference {
    /// The secret (and, for a credential, the user it carries), read when connecting: from the
    /// environment of this process, a file of the secrets folder (the service's own, mode
    /// 600), or the credential store. `use` says who needs it, for the message.
    public func resolve(for use: String, secrets: SecretsLocation?) throws(JobManagerError) -> (user: String?, secret: String) {
        switch source {
        case .environment:
            guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
                throw JobManagerError(
                    .invalidJob,
                    "\(use): the environment variable \(name), which holds the password, is not set in this process: export it before starting Tidemark"
                )
            }
            return (nil, value)
        case .file, .credential:
            guard let secrets else {
                throw JobManagerError(.invalidJob, "\(use): no secrets folder is configured in this process, so '\(self)' cannot be read")
            }
            do {
                if source == .file { return (nil, try secrets.files.read(name)) }
                let credential = try secrets.credentials.read(name)
                return (credential.user, credential.secret)
            } catch {
                throw JobManagerError(.invalidJob, "\(use): \(error.message)")
            }
        }
    }
}
