import Foundation
import Repository

/// Gathers the "do you hold this chunk?" questions of a transfer's blocks in flight into one
/// request to the service, as a group commit gathers appends: the first block to ask sends
/// its name alone; while that request is out, the other blocks' names wait and go together
/// in the next one. With 16 blocks in flight a backup asks about 16 names a request instead
/// of one, so a block costs about one request (its chunk's `PUT`) instead of two — each
/// request is TLS, a signature and JSON on both hosts, and on one machine the CPU they take
/// is what bounds a transfer.
///
/// Blocking: the asking threads wait on a condition (the blocking pool's threads, never the
/// cooperative pool's).
final class ChunkPresenceBatcher: @unchecked Sendable {
    private let condition = NSCondition()
    /// Names asked and not sent yet, with how many askers wait for each.
    private var waiting: Set<ChunkID> = []
    private var askers: [ChunkID: Int] = [:]
    /// The names of the request out now.
    private var sent: Set<ChunkID> = []
    /// Answers not read by all their askers yet: held soundly, or the request's failure.
    private var answers: [ChunkID: Result<Bool, RepositoryError>] = [:]
    private var asking = false

    /// Whether the service holds `id` soundly; `ask` sends a batch of names and returns those
    /// it lacks (or holds torn). A failed request fails every name in it.
    func holds(_ id: ChunkID, ask: (Set<ChunkID>) throws(RepositoryError) -> Set<ChunkID>) throws(RepositoryError) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        // Asked already and not answered yet (waiting, or in the request out): its answer serves.
        if answers[id] == nil && !sent.contains(id) { waiting.insert(id) }
        askers[id, default: 0] += 1
        while true {
            if let answer = answers[id] {
                askers[id]! -= 1
                if askers[id] == 0 {
                    askers[id] = nil
                    answers[id] = nil
                }
                return try answer.get()
            }
            if !asking {
                asking = true
                let batch = waiting
                waiting = []
                sent = batch
                condition.unlock()
                let result = Result { () throws(RepositoryError) -> Set<ChunkID> in try ask(batch) }
                condition.lock()
                asking = false
                sent = []
                for name in batch {
                    answers[name] = result.map { !$0.contains(name) }
                }
                condition.broadcast()
                continue
            }
            condition.wait()
        }
    }
}
