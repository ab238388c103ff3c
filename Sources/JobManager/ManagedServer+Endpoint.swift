import Catalog
import Foundation
import VSphere

extension SecretReference {
    /// The secret's value, read when connecting: from the environment of this process or from
    /// the file (one trailing newline dropped). `use` says who needs it, for the message.
    public func resolve(for use: String) throws(JobManagerError) -> String {
        switch source {
        case .environment:
            guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
                throw JobManagerError(
                    .invalidJob, "\(use): the environment variable \(name), which holds the password, is not set in this process: export it before starting Tidemark")
            }
            return value
        case .file:
            guard let data = FileManager.default.contents(atPath: name) else {
                throw JobManagerError(.invalidJob, "\(use): the password file \(name) cannot be read: check that it exists and that this user may read it")
            }
            var value = String(decoding: data, as: UTF8.self)
            if value.hasSuffix("\r\n") { value.removeLast(2) } else if value.hasSuffix("\n") { value.removeLast() }
            guard !value.isEmpty else { throw JobManagerError(.invalidJob, "\(use): the password file \(name) is empty") }
            return value
        }
    }
}

extension ManagedServer {
    /// How to reach this vCenter, with its password resolved from the reference; the endpoint
    /// carries the catalog name, so a refused certificate's message names the command to run.
    public func endpoint(for use: String) throws(JobManagerError) -> VSphereEndpoint {
        guard platform == .vcenter, let url, let user, let passwordReference else {
            throw JobManagerError(.invalidJob, "\(use): '\(name)' is not a vCenter with a URL, user and password reference")
        }
        return VSphereEndpoint(
            url: url, user: user, password: try passwordReference.resolve(for: "\(use), vCenter '\(name)'"), thumbprint: thumbprint, name: name)
    }
}
