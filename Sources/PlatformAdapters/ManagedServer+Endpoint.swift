import Catalog
import JobManager
import VSphere

extension ManagedServer {
    /// How to reach this vCenter, with its password resolved from the reference; the endpoint
    /// carries the catalog name, so a refused certificate's message names the command to run.
    public func endpoint(for use: String, secrets: SecretsLocation?) throws(JobManagerError) -> VSphereEndpoint {
        try resolvedEndpoint(for: use, secrets: secrets).endpoint
    }

    /// The endpoint and the password in it, which the session scrubs from all it records.
    /// `handedOver`: the login a Job Manager gave a proxy process for a task, used instead of
    /// the reference (which names a secret on the Job Manager's host, not this one).
    public func resolvedEndpoint(
        for use: String, secrets: SecretsLocation?, handedOver: HandedOverCredentials? = nil
    ) throws(JobManagerError) -> (endpoint: VSphereEndpoint, password: String) {
        guard platform == .vcenter, let url, let passwordReference else {
            throw JobManagerError(.invalidJob, "\(use): '\(name)' is not a vCenter with a URL and password reference")
        }
        let (storedUser, password): (String?, String)
        if let handedOver {
            (storedUser, password) = (handedOver.user, handedOver.secret)
        } else {
            (storedUser, password) = try passwordReference.resolve(for: "\(use), vCenter '\(name)'", secrets: secrets)
        }
        guard let login = user ?? storedUser, !login.isEmpty else {
            throw JobManagerError(.invalidJob, "\(use): vCenter '\(name)' has no user: give it --user, or store one with its credential")
        }
        return (VSphereEndpoint(url: url, user: login, password: password, thumbprint: thumbprint, name: name), password)
    }
}
