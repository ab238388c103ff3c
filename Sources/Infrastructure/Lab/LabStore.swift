import Foundation
import Repository
import Synchronization

/// Reads and writes `lab.json` under a file lock, so the CLI's `lab mutate` and a Job
/// Manager's snapshots can act on one lab at once; state changes are atomic file writes.
struct LabStore: Sendable {
    let layout: LabLayout

    enum LockMode {
        case shared
        case exclusive
    }

    func withLock<T>(_ mode: LockMode, _ body: () throws -> T) throws -> T {
        let descriptor = open(layout.lock, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw InfrastructureError(.io, "cannot open the lab lock \(layout.lock): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        while flock(descriptor, mode == .shared ? LOCK_SH : LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw InfrastructureError(.io, "cannot lock the lab \(layout.root): \(String(cString: strerror(errno)))")
            }
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    func load() throws -> LabState {
        var info = stat()
        guard stat(layout.state, &info) == 0 else {
            throw InfrastructureError(
                .invalidInput, "\(layout.root) is not a lab (it has no lab.json): make one with 'tidemark lab create \(layout.root)'")
        }
        // A big lab's state is a few megabytes of JSON: decode it again only when the file changed.
        let stamp = LabStateCache.Stamp(info)
        if let cached = LabStateCache.shared.state(at: layout.state, stamp: stamp) { return cached }
        guard let data = FileManager.default.contents(atPath: layout.state) else {
            throw InfrastructureError(.io, "cannot read \(layout.state)")
        }
        guard let state = try? JSONDecoder().decode(LabState.self, from: data), state.format == LabState.formatVersion else {
            throw InfrastructureError(.invalidInput, "\(layout.state) is damaged or of another format")
        }
        LabStateCache.shared.remember(state, at: layout.state, stamp: stamp)
        return state
    }

    /// Atomic (a temporary file renamed over the state), not forced to disk: the lab stands in
    /// for a hypervisor, and what its tests kill is processes, not machines. Syncing a large
    /// lab's state on every snapshot made the lab, not Tidemark, the bottleneck of big jobs.
    func save(_ state: LabState) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(state)
        let temporary = layout.state + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else {
            throw InfrastructureError(.io, "cannot write \(temporary)")
        }
        guard rename(temporary, layout.state) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw InfrastructureError(.io, "cannot replace \(layout.state): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        if stat(layout.state, &info) == 0 { LabStateCache.shared.remember(state, at: layout.state, stamp: LabStateCache.Stamp(info)) }
    }

    /// Loads, lets `body` change the state, saves; all under the exclusive lock.
    func update<T>(_ body: (inout LabState) throws -> T) throws -> T {
        try withLock(.exclusive) {
            var state = try load()
            let value = try body(&state)
            try save(state)
            return value
        }
    }

    func read<T>(_ body: (LabState) throws -> T) throws -> T {
        try withLock(.shared) { try body(try load()) }
    }
}

/// Decoded lab states of this process, each with the file stamp it was read at.
final class LabStateCache: Sendable {
    static let shared = LabStateCache()

    struct Stamp: Equatable, Sendable {
        let inode: UInt64
        let size: Int64
        let modified: Int64
        let nanoseconds: Int

        init(_ info: stat) {
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modified = Int64(info.st_mtim.tv_sec)
            nanoseconds = Int(info.st_mtim.tv_nsec)
        }
    }

    private let states = Mutex([String: (Stamp, LabState)]())

    func state(at path: String, stamp: Stamp) -> LabState? {
        states.withLock { $0[path].flatMap { $0.0 == stamp ? $0.1 : nil } }
    }

    func remember(_ state: LabState, at path: String, stamp: Stamp) {
        states.withLock { $0[path] = (stamp, state) }
    }
}
