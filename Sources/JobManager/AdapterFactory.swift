import Catalog
import Foundation
import Infrastructure
import Logging

/// An adapter opened for a session, with the secrets it was given: the session scrubs them
/// from everything it records and from the errors it passes up.
public struct OpenedAdapter: Sendable {
    public let adapter: any InfrastructureAdapter
    public let secrets: [String]
    /// What a proxy process needs to open the same server for one task, sealed to that
    /// process's key when a task is assigned (`CredentialSeal`); nil when the platform needs
    /// none (the lab: its folder).
    public let handover: HandedOverCredentials?

    public init(adapter: any InfrastructureAdapter, secrets: [String] = [], handover: HandedOverCredentials? = nil) {
        self.adapter = adapter
        self.secrets = secrets
        self.handover = handover
    }
}

/// A managed server's login as the Job Manager resolved it, handed to a proxy process for
/// one task: never stored by the process, never in an event or a log.
public struct HandedOverCredentials: Codable, Sendable, Equatable {
    public var user: String?
    public var secret: String

    public init(user: String?, secret: String) {
        self.user = user
        self.secret = secret
    }
}

/// Makes the adapter that reaches a managed server, one maker per platform.
///
/// The composition root (the command line, the server) registers the platforms it ships —
/// `PlatformAdapters.standard` has the lab and vSphere — so the Job Manager knows no platform
/// by name, and a platform added later (another hypervisor, a proxy's remote adapter) is a
/// registration, not an edit of the session runner.
public struct AdapterFactory: Sendable {
    /// What a maker is asked for.
    public struct Request: Sendable {
        public let server: ManagedServer
        /// Who needs the adapter, for messages: "job 'nightly'".
        public let use: String
        /// Where `credential:` and `file:` password references are read; nil refuses them.
        public let secrets: SecretsLocation?
        /// The login the Job Manager handed over (a proxy process's task): used instead of
        /// resolving the server's password reference on this host.
        public let handedOver: HandedOverCredentials?
        public let logger: Logger
    }

    public typealias Maker = @Sendable (Request) async throws -> OpenedAdapter

    private var makers: [ManagedServer.Platform: Maker] = [:]

    /// A factory with no platform: register the ones this program ships.
    public init() {}

    /// Makes `platform`'s adapters with `maker` (replacing any earlier registration).
    public mutating func register(_ platform: ManagedServer.Platform, _ maker: @escaping Maker) {
        makers[platform] = maker
    }

    /// The platforms registered, for messages.
    public var platforms: [ManagedServer.Platform] { makers.keys.sorted { $0.rawValue < $1.rawValue } }

    /// The adapter for `server`; refused with the reason when its platform is not registered.
    public func open(
        _ server: ManagedServer, for use: String, secrets: SecretsLocation?, handedOver: HandedOverCredentials? = nil, logger: Logger
    ) async throws -> OpenedAdapter {
        guard let maker = makers[server.platform] else {
            throw JobManagerError(
                .invalidJob,
                "\(use): '\(server.name)' is a \(server.platform.rawValue) server, which this program cannot reach (it knows \(platforms.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        return try await maker(Request(server: server, use: use, secrets: secrets, handedOver: handedOver, logger: logger))
    }

    /// The lab only: the adapter every build has (`Infrastructure`), and the default of a
    /// Job Manager made without one (tests, benches).
    public static var lab: AdapterFactory {
        var factory = AdapterFactory()
        factory.register(.lab) { request in
            let folder = request.server.folder ?? ""
            guard FileManager.default.fileExists(atPath: folder + "/lab.json") else {
                throw JobManagerError(
                    .invalidJob,
                    "\(request.use): the lab '\(request.server.name)' has no lab.json in \(folder): create it with 'tidemark lab create \(folder)'"
                )
            }
            return OpenedAdapter(adapter: try LabAdapter(root: folder))
        }
        return factory
    }
}
