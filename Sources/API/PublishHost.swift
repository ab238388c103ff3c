import EventStore
import Foundation
import JobManager
import ServiceLifecycle
import Synchronization

/// The publishes asked for through the API, served by this server's process: each runs in a
/// task of its own until its stop is recorded (`POST /publishes/{id}/stop`, `tidemark publish
/// stop`). At the server's shutdown they are interrupted without a stop, so the next start's
/// publish runner serves them again at the same address, as it does after a crash.
final class PublishHost: Sendable {
    let manager: PublishManager
    private let running = Mutex<[UUID: Task<Void, Never>]>([:])
    /// Publishes served at once for the API: each holds its repository's shared lock (retention
    /// and collection wait) and an NBD listener.
    static let limit = 32

    init(manager: PublishManager) {
        self.manager = manager
    }

    /// Starts serving; returns once clients may connect (the publish's id and the address
    /// bound), or throws why it was refused: then nothing was recorded.
    func start(
        _ order: PublishOrder, metadata: EventMetadata, admit: @escaping PublishManager.Admission
    ) async throws -> (publish: String, address: String) {
        let (results, continuation) = AsyncStream<Result<(String, String), any Error>>.makeStream()
        let key = UUID()
        let manager = self.manager
        // Those the publish runner serves again after a restart count too.
        let host = ProcessInfo.processInfo.hostName
        let resumed = try await manager.unstopped().filter { $0.host == host }.count
        // Made and entered under the lock, so its removal (at its end) always comes after.
        let started = running.withLock { running -> Bool in
            guard max(running.count, resumed) < Self.limit else { return false }
            running[key] = Task {
                do {
                    _ = try await manager.publish(order, metadata: metadata, admit: admit, keepAcrossRestarts: true) { publish, address in
                        continuation.yield(.success((publish, address)))
                    }
                } catch {
                    continuation.yield(.failure(error))
                }
                continuation.finish()
                _ = self.running.withLock { $0.removeValue(forKey: key) }
            }
            return true
        }
        guard started else {
            throw APIProblem(.conflict, "this server serves \(Self.limit) publishes already: stop one (POST /api/v1/publishes/{id}/stop)")
        }
        for await result in results { return try result.get() }
        throw CancellationError()
    }

    /// Interrupts every publish and waits for each to let go of its address and overlays.
    func shutdown() async {
        let tasks = running.withLock { Array($0.values) }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }
}

/// Ends the API's publishes with the server (``PublishHost/shutdown()``).
struct PublishHostService: Service {
    let host: PublishHost

    func run() async throws {
        try? await gracefulShutdown()
        await host.shutdown()
    }
}
