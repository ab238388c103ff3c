import Dispatch
import Infrastructure
import Synchronization

/// Serves small reads of a remote disk from larger range requests, fetched ahead.
///
/// Each HTTP range request costs a round trip and a response's setup, which at 1 MiB (one
/// backup block) cost a third of curl's rate. Reads that continue where an earlier range ended
/// are served from windows that double per step up to `maximumWindow` (8 MiB), and once a run
/// is three windows long the next window is fetched while the current one is served. A read
/// that continues nothing (a changed block on its own, in an incremental) fetches just its own
/// bytes, so sparse reads do not pay for bytes nobody asked for. Several readers may read at
/// once, at different offsets: each run of sequential reads grows on its own.
///
/// Memory is bounded: a window is dropped once every byte of it was served, and at most
/// `maximumWindows` are held (the oldest fetched one goes first; a prefetch waits for room).
/// Reads of `maximumWindow` or more go straight into the caller's buffer.
final class RangeReadAhead: Sendable {
    /// Reads `buffer.count` bytes at an offset, blocking: one range request.
    typealias Fetch = @Sendable (Int64, UnsafeMutableRawBufferPointer) throws(InfrastructureError) -> Void

    let size: Int64
    /// The largest range fetched for a sequential run. Defaults to 8 MiB.
    let maximumWindow: Int
    /// Windows held at once, fetched or in flight. Defaults to 4.
    let maximumWindows: Int
    private let fetch: Fetch
    private let state = Mutex(State())

    private struct State {
        var windows: [Window] = []
        /// Where recent windows ended and how long they were: a read starting at one of these
        /// ends continues a run.
        var recentEnds: [(end: Int64, length: Int, run: Int)] = []
    }

    init(size: Int64, maximumWindow: Int = 8 << 20, maximumWindows: Int = 4, fetch: @escaping Fetch) {
        self.size = size
        self.maximumWindow = maximumWindow
        self.maximumWindows = maximumWindows
        self.fetch = fetch
    }

    /// Fills `buffer` from `offset` (the caller has checked the bounds).
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) async throws {
        var done = 0
        while done < buffer.count {
            let position = offset + Int64(done)
            let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[done...])
            switch state.withLock({ plan(position, rest.count, &$0) }) {
            case .direct:
                let target = BufferBox(rest)
                try await onBlockingThread { [fetch] () throws(InfrastructureError) in try fetch(position, target.buffer) }
                done = buffer.count
            case .window(let window, let started, let prefetch):
                for fresh in [started, prefetch].compactMap({ $0 }) { load(fresh) }
                try await window.loaded()
                let count = min(rest.count, Int(window.end - position))
                window.copy(from: position, count: count, into: rest)
                state.withLock { state in
                    window.served += count
                    if window.served >= window.length { state.windows.removeAll { $0 === window } }
                }
                done += count
            }
        }
    }

    private enum Plan {
        case direct
        /// The window to serve from; one to fetch for it, and one to fetch ahead, if any.
        case window(Window, started: Window?, prefetch: Window?)
    }

    /// Decides, under the lock, where the bytes at `position` come from.
    private func plan(_ position: Int64, _ wanted: Int, _ state: inout State) -> Plan {
        if let window = state.windows.first(where: { $0.start <= position && position < $0.end }) {
            return .window(window, started: nil, prefetch: prefetch(after: window, &state))
        }
        let previous = state.recentEnds.last { $0.end == position }
        if wanted >= maximumWindow {
            remember(end: position + Int64(wanted), length: wanted, run: (previous?.run ?? 0) + 1, &state)
            return .direct
        }
        let length: Int
        let run: Int
        if let previous {
            length = Int(min(Int64(min(max(wanted, previous.length * 2), maximumWindow)), size - position))
            run = previous.run + 1
        } else {
            length = wanted
            run = 0
        }
        let window = add(Window(start: position, length: length, run: run), &state, evicting: true)
        return .window(window, started: window, prefetch: prefetch(after: window, &state))
    }

    /// The next window of a run three windows long or more, unless it is there already, the
    /// disk ends, or the windows held are at their limit.
    private func prefetch(after window: Window, _ state: inout State) -> Window? {
        guard window.run >= 2, window.end < size, state.windows.count < maximumWindows,
            !state.windows.contains(where: { $0.start <= window.end && window.end < $0.end })
        else { return nil }
        let length = Int(min(Int64(min(window.length * 2, maximumWindow)), size - window.end))
        return add(Window(start: window.end, length: length, run: window.run + 1), &state, evicting: false)
    }

    private func add(_ window: Window, _ state: inout State, evicting: Bool) -> Window {
        if evicting, state.windows.count >= maximumWindows, let oldest = state.windows.firstIndex(where: { $0.isLoaded }) {
            // Readers already copying from it keep it alive until they are done.
            state.windows.remove(at: oldest)
        }
        state.windows.append(window)
        remember(end: window.end, length: window.length, run: window.run, &state)
        return window
    }

    private func remember(end: Int64, length: Int, run: Int, _ state: inout State) {
        state.recentEnds.append((end, length, run))
        if state.recentEnds.count > 16 { state.recentEnds.removeFirst() }
    }

    /// Fetches a window on a Dispatch thread; a failed one is dropped so a later read tries again.
    private func load(_ window: Window) {
        let fetch = fetch
        HTTPTransport.blockingQueue.async { [self] in
            do throws(InfrastructureError) {
                try fetch(window.start, window.bytes)
                window.finish(nil)
            } catch {
                state.withLock { $0.windows.removeAll { $0 === window } }
                window.finish(error)
            }
        }
    }

    private func onBlockingThread(_ body: @escaping @Sendable () throws(InfrastructureError) -> Void) async throws {
        let result: Result<Void, InfrastructureError> = await withCheckedContinuation { continuation in
            HTTPTransport.blockingQueue.async {
                do throws(InfrastructureError) {
                    try body()
                    continuation.resume(returning: .success(()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        try result.get()
    }
}

/// One range of the disk: fetched once, then copied from by every read that falls in it.
///
/// `bytes` is written only by the fetch, before the phase becomes `loaded`, and read only
/// after; `served` changes only under the read-ahead's lock.
private final class Window: @unchecked Sendable {
    let start: Int64
    let length: Int
    /// How many windows of its run came before it (0: a read that continued nothing).
    let run: Int
    let bytes: UnsafeMutableRawBufferPointer
    var served = 0
    private let phase = Mutex(Phase.loading([]))

    private enum Phase {
        case loading([CheckedContinuation<Void, any Error>])
        case loaded
        case failed(InfrastructureError)
    }

    var end: Int64 { start + Int64(length) }
    var isLoaded: Bool { phase.withLock { if case .loaded = $0 { true } else { false } } }

    init(start: Int64, length: Int, run: Int) {
        self.start = start
        self.length = length
        self.run = run
        bytes = .allocate(byteCount: length, alignment: 64)
    }

    deinit { bytes.deallocate() }

    /// Waits until the fetch has ended; throws its error.
    func loaded() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, InfrastructureError>? = phase.withLock { phase in
                switch phase {
                case .loading(let waiting):
                    phase = .loading(waiting + [continuation])
                    return nil
                case .loaded: return .success(())
                case .failed(let error): return .failure(error)
                }
            }
            if let outcome { continuation.resume(with: outcome.mapError { $0 as any Error }) }
        }
    }

    func finish(_ error: InfrastructureError?) {
        let waiting = phase.withLock { phase -> [CheckedContinuation<Void, any Error>] in
            guard case .loading(let waiting) = phase else { return [] }
            phase = error.map(Phase.failed) ?? .loaded
            return waiting
        }
        for continuation in waiting {
            if let error { continuation.resume(throwing: error) } else { continuation.resume() }
        }
    }

    func copy(from position: Int64, count: Int, into target: UnsafeMutableRawBufferPointer) {
        target.baseAddress!.copyMemory(from: bytes.baseAddress! + Int(position - start), byteCount: count)
    }
}

/// A caller's buffer handed to a Dispatch thread; the caller waits until it is filled.
private struct BufferBox: @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer
    init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }
}
