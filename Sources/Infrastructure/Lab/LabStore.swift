import Foundation
import Repository

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
        guard let data = FileManager.default.contents(atPath: layout.state) else {
            throw InfrastructureError(
                .invalidInput, "\(layout.root) is not a lab (it has no lab.json): make one with 'tidemark lab create \(layout.root)'")
        }
        let decoder = JSONDecoder()
        guard let state = try? decoder.decode(LabState.self, from: data), state.format == LabState.formatVersion else {
            throw InfrastructureError(.invalidInput, "\(layout.state) is damaged or of another format")
        }
        return state
    }

    func save(_ state: LabState) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try DurableFile.write(Array(try encoder.encode(state)), to: layout.state)
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
