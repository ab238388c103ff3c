import Foundation
import Repository
import Synchronization

/// The nonces of the last ten minutes (twice the allowed skew): each is good once, also
/// across a restart of the service.
///
/// A request captured on the wire stays within the allowed date skew for five minutes; if
/// the ledger lived in memory only, restarting the service (an update, a crash, or an attacker
/// who can make it crash) would let that request be played again. So each nonce admitted is
/// appended to a file of its ten-minute generation (`service/nonces/<generation>`, one line
/// of `<unix seconds> <nonce>`), and a starting service reads the current and the previous
/// generation back; older files are deleted as generations pass. The lines are written
/// without fsync: a restart of the process keeps them (the kernel has them), and only a power
/// loss in the last seconds before it could forget some, which the journal's own records of
/// writes would still show.
final class NonceLedger: Sendable {
    static let memory: TimeInterval = 2 * RequestSignature.allowedSkew

    private struct State {
        var seen: [String: Date] = [:]
        var generation: Int64 = -1
        var descriptor: Int32 = -1
    }

    private let state = Mutex(State())
    /// The folder of generation files; nil keeps the nonces in memory only.
    private let folder: String?

    /// Loads the nonces of the current and the previous generation from `folder`.
    init(folder: String?, now: Date) throws(RepositoryServiceError) {
        self.folder = folder
        guard let folder else { return }
        do {
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw RepositoryServiceError(.io, "cannot create \(folder): \(error.localizedDescription)")
        }
        let current = Self.generation(of: now)
        var seen: [String: Date] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            guard let generation = Int64(name), generation >= current - 1 else {
                unlink(folder + "/" + name)
                continue
            }
            let text = (try? String(contentsOfFile: folder + "/" + name, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                // A line cut short by a crash reads as nothing.
                guard fields.count == 2, let seconds = Double(fields[0]), fields[1].utf8.count == 32 else { continue }
                seen[String(fields[1])] = Date(timeIntervalSince1970: seconds)
            }
        }
        state.withLock { $0.seen = seen }
    }

    deinit {
        state.withLock { if $0.descriptor >= 0 { close($0.descriptor) } }
    }

    static func generation(of date: Date) -> Int64 { Int64((date.timeIntervalSince1970 / memory).rounded(.down)) }

    /// True the first time `nonce` is seen within ``memory``; it is recorded before the answer.
    func admit(_ nonce: String, at now: Date) -> Bool {
        state.withLock { state in
            if state.seen.count > 100_000 { state.seen = state.seen.filter { now.timeIntervalSince($0.value) < Self.memory } }
            if let at = state.seen[nonce], now.timeIntervalSince(at) < Self.memory { return false }
            state.seen[nonce] = now
            record(nonce, at: now, in: &state)
            return true
        }
    }

    /// Appends the nonce to its generation's file, opening the file of a new generation and
    /// deleting the one before the previous. A write that fails leaves the nonce in memory:
    /// the request is still good once while the process lives.
    private func record(_ nonce: String, at now: Date, in state: inout State) {
        guard let folder else { return }
        let generation = Self.generation(of: now)
        if generation != state.generation || state.descriptor < 0 {
            // A file that could not be opened (no descriptor left, a full disk) is tried again
            // at the next nonce, not only at the next generation.
            if state.descriptor >= 0 { close(state.descriptor) }
            state.descriptor = open("\(folder)/\(generation)", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            if generation != state.generation { unlink("\(folder)/\(generation - 2)") }
            state.generation = generation
        }
        guard state.descriptor >= 0 else { return }
        let line = Array("\(Int64(now.timeIntervalSince1970)) \(nonce)\n".utf8)
        _ = line.withUnsafeBytes { write(state.descriptor, $0.baseAddress, $0.count) }
    }
}
