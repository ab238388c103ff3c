import Foundation
import Synchronization

/// Refusals per client address in the last minute: past ``perMinute`` the address is refused
/// without its request being looked at or journaled, until its minute has passed.
final class RefusalLimit: Sendable {
    static let perMinute = 30

    enum State: Equatable {
        case allowed
        /// The limit was just passed: the one entry that says so is written now.
        case startsNow
        case limited
    }

    private let times = Mutex<[String: [Date]]>([:])
    private let announced = Mutex<Set<String>>([])

    func count(_ client: String, at now: Date) {
        times.withLock { times in
            times[client, default: []].append(now)
            if times.count > 10_000 { times = times.filter { now.timeIntervalSince($0.value.last ?? now) < 60 } }
        }
    }

    func state(of client: String, at now: Date) -> State {
        let recent = times.withLock { times -> Int in
            let kept = (times[client] ?? []).filter { now.timeIntervalSince($0) < 60 }
            times[client] = kept.isEmpty ? nil : kept
            return kept.count
        }
        return announced.withLock { announced in
            guard recent >= Self.perMinute else {
                announced.remove(client)
                return .allowed
            }
            return announced.insert(client).inserted ? .startsNow : .limited
        }
    }
}
