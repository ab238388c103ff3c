import BlockingIO
import Foundation
import Repository
import Synchronization

/// Reads and writes `lab.json` and `inventory.json` under a file lock, so the CLI's `lab mutate` and a Job
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
        // A big lab's inventory is megabytes of JSON: decode a file again only when it changed.
        let stamp = LabStateCache.Stamp(info)
        let stored: LabStateFile
        if let cached = LabStateCache.shared.file(at: layout.state, stamp: stamp) {
            stored = cached
        } else {
            guard let data = FileManager.default.contents(atPath: layout.state) else {
                throw InfrastructureError(.io, "cannot read \(layout.state)")
            }
            guard let decoded = try? JSONDecoder().decode(LabStateFile.self, from: data),
                (1...LabState.formatVersion).contains(decoded.format)
            else {
                throw InfrastructureError(.invalidInput, "\(layout.state) is damaged or of another format")
            }
            stored = decoded
            LabStateCache.shared.remember(file: decoded, at: layout.state, stamp: stamp)
        }
        if let inventory = stored.inventory, stored.format == 1 { return stored.state(inventory: inventory) }
        return stored.state(inventory: try loadInventory())
    }

    private func loadInventory() throws -> Inventory {
        var info = stat()
        guard stat(layout.inventory, &info) == 0 else {
            throw InfrastructureError(
                .invalidInput, "the lab \(layout.root) has no inventory.json: make it again with 'tidemark lab create'")
        }
        let stamp = LabStateCache.Stamp(info)
        if let cached = LabStateCache.shared.inventory(at: layout.inventory, stamp: stamp) { return cached }
        guard let data = FileManager.default.contents(atPath: layout.inventory),
            let inventory = try? JSONDecoder().decode(Inventory.self, from: data)
        else {
            throw InfrastructureError(.invalidInput, "\(layout.inventory) is damaged")
        }
        LabStateCache.shared.remember(inventory: inventory, at: layout.inventory, stamp: stamp)
        return inventory
    }

    /// Atomic (a temporary file renamed over the state), not forced to disk: the lab stands in
    /// for a hypervisor, and what its tests kill is processes, not machines. Syncing a large
    /// lab's state on every snapshot made the lab, not Tidemark, the bottleneck of big jobs.
    /// The inventory is written first, and only when it changed (or a format 1 lab is
    /// converted): a snapshot rewrites only `lab.json`.
    func save(_ state: LabState) throws {
        var info = stat()
        let unchanged =
            stat(layout.inventory, &info) == 0
            && LabStateCache.shared.inventory(at: layout.inventory, stamp: LabStateCache.Stamp(info)) == state.inventory
        if !unchanged {
            try write(try JSONEncoder.sorted.encode(state.inventory), to: layout.inventory)
            if stat(layout.inventory, &info) == 0 {
                LabStateCache.shared.remember(inventory: state.inventory, at: layout.inventory, stamp: LabStateCache.Stamp(info))
            }
        }
        let file = LabStateFile(state)
        try write(try JSONEncoder.sorted.encode(file), to: layout.state)
        if stat(layout.state, &info) == 0 { LabStateCache.shared.remember(file: file, at: layout.state, stamp: LabStateCache.Stamp(info)) }
    }

    private func write(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else {
            throw InfrastructureError(.io, "cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw InfrastructureError(.io, "cannot replace \(path): \(String(cString: strerror(errno)))")
        }
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

    /// `update` on a blocking-I/O thread: the lock may wait for another process, and the
    /// state is a file read and written, neither of which may hold a cooperative thread.
    func updateOffPool<T: Sendable>(_ body: @escaping @Sendable (inout LabState) throws -> T) async throws -> T {
        try await BlockingIOPool.shared.run { () throws -> T in try update(body) }
    }

    /// `read` on a blocking-I/O thread.
    func readOffPool<T: Sendable>(_ body: @escaping @Sendable (LabState) throws -> T) async throws -> T {
        try await BlockingIOPool.shared.run { () throws -> T in try read(body) }
    }
}

/// Decoded lab files of this process, each with the file stamp it was read at.
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

    private let files = Mutex([String: (Stamp, LabStateFile)]())
    private let inventories = Mutex([String: (Stamp, Inventory)]())

    func file(at path: String, stamp: Stamp) -> LabStateFile? {
        files.withLock { $0[path].flatMap { $0.0 == stamp ? $0.1 : nil } }
    }

    func remember(file: LabStateFile, at path: String, stamp: Stamp) {
        files.withLock { $0[path] = (stamp, file) }
    }

    func inventory(at path: String, stamp: Stamp) -> Inventory? {
        inventories.withLock { $0[path].flatMap { $0.0 == stamp ? $0.1 : nil } }
    }

    func remember(inventory: Inventory, at path: String, stamp: Stamp) {
        inventories.withLock { $0[path] = (stamp, inventory) }
    }
}

extension JSONEncoder {
    /// Keys sorted: the same state gives the same bytes.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
