import CommandLineSupport
import JobManager

extension GlobalOptions {
    /// Where this host keeps secrets (the credential store, the secrets folder): under the
    /// data folder these options name, as the server that will read them does.
    func secretsLocation() throws -> SecretsLocation {
        SecretsLocation(dataDirectory: try CatalogDatabase(options: self, logger: try makeLogger()).dataDirectory.path)
    }

    /// The Job Manager's settings as this host's commands use them: secrets and the staging
    /// of transfers to repository services under the data folder.
    func jobManagerSettings() throws -> JobManagerSettings {
        JobManagerSettings.fromEnvironment(dataDirectory: try CatalogDatabase(options: self, logger: try makeLogger()).dataDirectory)
    }
}
