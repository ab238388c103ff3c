import CommandLineSupport
import JobManager

extension GlobalOptions {
    /// Where this host keeps secrets (the credential store, the secrets folder): under the
    /// data folder these options name, as the server that will read them does.
    func secretsLocation() throws -> SecretsLocation {
        SecretsLocation(dataDirectory: try CatalogDatabase(options: self, logger: try makeLogger()).dataDirectory.path)
    }
}
