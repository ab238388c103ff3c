import DataMover
import Foundation

/// A session's throttles shared across the movers of its tasks.
///
/// A throttling rule gives the session a rate (`ThrottleApplied`); its tasks may run on the
/// embedded mover and on several proxy processes at once, each with a bucket of its own. The
/// rate holds for the session as a whole: every running task under the rule gets an equal
/// share, the embedded bucket the shares of the embedded tasks, and each proxy process the
/// shares of the tasks it holds (written to `tidemark.throttle_shares` before a new task is
/// assigned, which the process reads at each look; `tidemark.share_session_throttle`). Shares are recomputed whenever a
/// task under the rule starts or ends, and written in the order of the changes.
actor ThrottleShares {
    /// The tasks of one rule running now.
    private struct Rule {
        /// The session's rate under the rule, before any division among movers.
        let full: Double
        let bucket: TokenBucket
        var embedded: Set<String> = []
        var remote: Set<String> = []
        /// Shares of remote tasks were written: the last one's end is written too.
        var told = false

        var running: Int { embedded.count + remote.count }
        var perTask: Int64 { Int64(max(1, (full / Double(max(1, running))).rounded(.down))) }
    }

    private var rules: [String: Rule] = [:]
    /// The last write to the database: each change's write follows the one before.
    private var lastTell: Task<Result<Void, any Error>, Never>?
    private let tell: @Sendable (_ rule: String, _ tasks: [String], _ bytesPerSecond: Int64) async throws -> Void

    /// `tell` writes the rule's share of the remote tasks named (the rule's other tasks have none).
    init(tell: @escaping @Sendable (_ rule: String, _ tasks: [String], _ bytesPerSecond: Int64) async throws -> Void) {
        self.tell = tell
    }

    /// A task starts under the rule whose session bucket is `bucket`; returns its share. Throws
    /// (and the task does not count) when the others' shares could not be lowered for it.
    func join(rule: String, bucket: TokenBucket, task: String, remote: Bool) async throws -> Int64 {
        var entry = rules[rule] ?? Rule(full: bucket.bytesPerSecond, bucket: bucket)
        if remote { entry.remote.insert(task) } else { entry.embedded.insert(task) }
        rules[rule] = entry
        do {
            try await changed(rule)
        } catch {
            await leave(rule: rule, task: task)
            throw error
        }
        return entry.perTask
    }

    /// The task ended (or moved): the others' shares grow.
    func leave(rule: String, task: String) async {
        guard var entry = rules[rule] else { return }
        entry.embedded.remove(task)
        entry.remote.remove(task)
        rules[rule] = entry
        // Not told (the database out of reach): the next change tells again; meanwhile the
        // others keep the smaller shares they had.
        try? await changed(rule)
    }

    /// Applies a change: the embedded bucket at once; the processes' shares through the
    /// database, in the order of the changes, before the caller goes on (a task is assigned
    /// only once the others' shares were lowered for it, so the shares in the database do not
    /// add up to more than the rate; each process applies its shares at its next look).
    private func changed(_ rule: String) async throws {
        guard var entry = rules[rule] else { return }
        if !entry.embedded.isEmpty { entry.bucket.setRate(bytesPerSecond: Double(entry.perTask) * Double(entry.embedded.count)) }
        guard !entry.remote.isEmpty || entry.told else { return }
        entry.told = !entry.remote.isEmpty
        rules[rule] = entry
        let tasks = entry.remote.sorted(), share = entry.perTask, previous = lastTell, tell = self.tell
        let write = Task { () -> Result<Void, any Error> in
            _ = await previous?.value
            do {
                try await tell(rule, tasks, share)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        lastTell = write
        try await write.value.get()
    }
}
