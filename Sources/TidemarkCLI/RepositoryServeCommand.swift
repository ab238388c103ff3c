import API
import ArgumentParser
import Foundation
import Logging
import RepositoryService
import ServerTLS
import ServiceLifecycle

/// `tidemark repository serve`: the hardened repository service, meant for a host of its own.
/// The backup server reaches it over HTTPS with a token this command issues on the service's
/// host; immutability is this host's setting, which no request can change.
struct RepositoryServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the hardened repository service: an append-only repository over HTTPS whose restore points stay immutable.",
        discussion: """
            Run it on the host that holds the backups, as that host's administrator. --issue-token
            prints a token for a backup server once (the service keeps only its digest) and exits;
            --immutable-days changes the setting for new restore points (the journal records it).
            Every write, deletion and refusal is in PATH/service/journal.jsonl, hash-chained.
            """)

    @Option(help: ArgumentHelp("The repository's folder (made when missing or empty).", valueName: "path")) var path: String
    @Option(help: ArgumentHelp("Where to listen: HOST:PORT.", valueName: "address")) var listen = "127.0.0.1:9420"
    @Option(help: "Days each new restore point stays immutable (0-3650); the saved setting, 14 for a new service, when left out.")
    var immutableDays: Int?
    @Option(
        help: ArgumentHelp(
            "Bytes of chunks kept at most (500GiB, 2TiB; 'off' for none); the saved setting, none for a new service, when left out.",
            valueName: "size"))
    var quota: String?
    @Option(
        help: ArgumentHelp("Issue a token for a backup server with this label (its name), print it once, and exit.", valueName: "label"))
    var issueToken: String?
    @Option(
        name: .customLong("tls-certificate"), help: ArgumentHelp("A certificate (PEM) instead of the self-signed one.", valueName: "file"))
    var tlsCertificate: String?
    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The private key of --tls-certificate (PEM).", valueName: "file"))
    var tlsKey: String?

    func run() async throws {
        let root = URL(fileURLWithPath: path)
        var limit: Int64??
        if let quota {
            if ["off", "none"].contains(quota.lowercased()) {
                limit = .some(nil)
            } else if let bytes = RepositoryOptions.bytes(quota) {
                limit = bytes
            } else {
                throw ValidationError("--quota '\(quota)' is not a size: write 500GiB, 2TiB or off")
            }
        }
        let repository = try HardenedRepository(root: root, immutableDays: immutableDays, quota: limit)
        if let label = issueToken {
            let token = try repository.issueToken(label: label)
            print(token)
            fflush(nil)
            FileHandle.standardError.write(
                Data("a token for '\(label)': the backup server signs its requests with it; it is not shown again\n".utf8))
            return
        }
        let listening = try APIServer.Address(listen)
        let (host, port) = (listening.host, listening.port)
        let address = host.split(separator: ".").compactMap { UInt8($0) }
        let tls = try TLSIdentity.load(
            certificate: tlsCertificate, key: tlsKey, folder: root.appendingPathComponent("service/tls"), name: "repository",
            addresses: address.count == 4 ? [address] : [])
        var logger = Logger(label: "tidemark.repository-service")
        logger.logLevel = .info
        let application = try RepositoryServer.make(
            repository: repository, host: host, port: port, tls: tls, logger: logger,
            onListening: { url in
                print("repository service at \(url), certificate SHA-256 \(tls.thumbprint)")
                print("restore points stay immutable \(repository.immutableDays) days; journal: \(repository.journal.path)")
                if let quota = repository.quotaBytes { print("quota: \(repository.usedBytes) of \(quota) bytes of chunks used") }
                fflush(nil)
            })
        let group = ServiceGroup(
            services: [application], gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        try await group.run()
    }
}
