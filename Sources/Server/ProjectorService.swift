import Projections
import ServiceLifecycle

/// The projector as a service: keeps the projections within a poll interval of the log.
public struct ProjectorService: Service {
    let projector: Projector

    public init(projector: Projector) {
        self.projector = projector
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await projector.run()
        }
    }
}
