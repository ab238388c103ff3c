import CCurl
import Foundation
import Synchronization

/// The clients of `bench api`: libcurl handles on threads of their own (so measuring never
/// waits on Swift's pool), keeping their connection alive and trusting the server's
/// certificate by its file, as an API client would.
final class BenchHTTPClient: @unchecked Sendable {
    private let curl: UnsafeMutableRawPointer
    private var headers: UnsafeMutablePointer<curl_slist>?
    private var strings: [UnsafeMutablePointer<CChar>] = []
    /// Bytes of the body so far; for a live feed, each `id:` line's position and when it came.
    fileprivate var received = 0
    fileprivate var pending = [UInt8]()
    fileprivate var arrivals: [(position: Int64, at: ContinuousClock.Instant)] = []
    /// Set on the transfer's thread when the 200 arrives, read by the bench's.
    let connected = Atomic<Bool>(false)

    init(url: String, caFile: String, token: String, accept: String = "application/json") {
        curl = curl_easy_init()!
        set(CURLOPT_URL, url)
        set(CURLOPT_CAINFO, caFile)
        _ = tm_curl_set_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = tm_curl_set_long(curl, CURLOPT_CONNECTTIMEOUT, 10)
        headers = curl_slist_append(headers, "Authorization: Bearer \(token)")
        headers = curl_slist_append(headers, "Accept: \(accept)")
        _ = tm_curl_set_pointer(curl, CURLOPT_HTTPHEADER, headers)
        let context = Unmanaged.passUnretained(self).toOpaque()
        _ = tm_curl_set_write(
            curl,
            { data, size, count, context in
                let client = Unmanaged<BenchHTTPClient>.fromOpaque(context!).takeUnretainedValue()
                client.take(UnsafeRawBufferPointer(start: data, count: size * count))
                return size * count
            }, context)
        _ = tm_curl_set_header_callback(
            curl,
            { data, size, count, context in
                let client = Unmanaged<BenchHTTPClient>.fromOpaque(context!).takeUnretainedValue()
                if String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self).hasPrefix("HTTP/1.1 200") {
                    client.connected.store(true, ordering: .releasing)
                }
                return size * count
            }, context)
    }

    deinit {
        curl_easy_cleanup(curl)
        curl_slist_free_all(headers)
        strings.forEach { free($0) }
    }

    var handle: UnsafeMutableRawPointer { curl }

    private func set(_ option: CURLoption, _ value: String) {
        let copy = strdup(value)!
        strings.append(copy)
        _ = tm_curl_set_pointer(curl, option, copy)
    }

    /// A GET of `url` on this client's connection; the status (0: the transfer failed).
    func get(_ url: String) -> Int {
        set(CURLOPT_URL, url)
        received = 0
        guard curl_easy_perform(curl) == CURLE_OK else { return 0 }
        return tm_curl_response_code(curl)
    }

    /// Body bytes: counted, and for a live feed cut into lines, each `id: N` noted with its time.
    private func take(_ bytes: UnsafeRawBufferPointer) {
        received += bytes.count
        guard !arrivalsOff else { return }
        let now = ContinuousClock.now
        for byte in bytes {
            if byte == 10 {
                if pending.starts(with: Array("id: ".utf8)), let position = Int64(String(decoding: pending.dropFirst(4), as: UTF8.self)) {
                    arrivals.append((position, now))
                }
                pending.removeAll(keepingCapacity: true)
            } else {
                pending.append(byte)
            }
        }
    }

    /// Plain requests do not look for `id:` lines.
    fileprivate var arrivalsOff = true
}

/// Open-loop load: request `i` is due at `start + i / rate`; each is timed from when it was
/// due, so a slow answer that delays the next counts against the next too (no coordinated
/// omission).
enum BenchLoad {
    struct Result {
        var latencies: [String: LatencySamples] = [:]
        var failures = 0
        var requests = 0
    }

    static func run(
        urls: [(route: String, url: String)], rate: Int, seconds: Int, workers: Int, caFile: String, token: String
    ) async
        -> Result
    {
        let total = rate * seconds
        let clock = ContinuousClock()
        let start = clock.now + .milliseconds(200)
        return await withTaskGroup(of: Result.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    await withCheckedContinuation { continuation in
                        Thread.detachNewThread {
                            let client = BenchHTTPClient(url: urls[0].url, caFile: caFile, token: token)
                            var result = Result()
                            for index in stride(from: worker, to: total, by: workers) {
                                let due = start + .seconds(Double(index) / Double(rate))
                                let wait = due - clock.now
                                if wait > .zero { Thread.sleep(forTimeInterval: wait.seconds) }
                                let target = urls[index % urls.count]
                                let status = client.get(target.url)
                                result.requests += 1
                                if status != 200 { result.failures += 1 }
                                result.latencies[target.route, default: LatencySamples()].record(clock.now - due)
                            }
                            continuation.resume(returning: result)
                        }
                    }
                }
            }
            var merged = Result()
            for await part in group {
                merged.failures += part.failures
                merged.requests += part.requests
                for (route, samples) in part.latencies { merged.latencies[route, default: LatencySamples()].merge(samples) }
            }
            return merged
        }
    }
}

/// Live subscribers on one thread (curl's multi interface): each follows the same feed and
/// notes when each event's `id:` arrived.
final class BenchSubscribers: @unchecked Sendable {
    private let clients: [BenchHTTPClient]
    private let multi: UnsafeMutableRawPointer
    private let stopping = Atomic<Bool>(false)
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)
    private var sharedHeaders: UnsafeMutablePointer<curl_slist>?

    init(count: Int, url: String, caFile: String, token: String, lastEventID: Int64) {
        clients = (0..<count).map { _ in
            let client = BenchHTTPClient(url: url, caFile: caFile, token: token, accept: "text/event-stream")
            client.arrivalsOff = false
            return client
        }
        multi = curl_multi_init()!
        sharedHeaders = Self.headers(token: token, lastEventID: lastEventID)
        for client in clients {
            _ = tm_curl_set_pointer(client.handle, CURLOPT_HTTPHEADER, sharedHeaders)
            curl_multi_add_handle(multi, client.handle)
        }
    }

    deinit { curl_slist_free_all(sharedHeaders) }

    /// The headers every subscriber sends (one list, shared by all, freed with them).
    private static func headers(token: String, lastEventID: Int64) -> UnsafeMutablePointer<curl_slist>? {
        var list: UnsafeMutablePointer<curl_slist>?
        list = curl_slist_append(list, "Authorization: Bearer \(token)")
        list = curl_slist_append(list, "Accept: text/event-stream")
        list = curl_slist_append(list, "Last-Event-ID: \(lastEventID)")
        return list
    }

    /// Drives every transfer until ``stop()``.
    func start() {
        let thread = Thread { [self] in
            var running: Int32 = 0
            while !stopping.load(ordering: .acquiring) {
                curl_multi_perform(multi, &running)
                curl_multi_poll(multi, nil, 0, 50, nil)
            }
            done.signal()
        }
        self.thread = thread
        thread.start()
    }

    /// How many have had their 200.
    var connected: Int { clients.count(where: { $0.connected.load(ordering: .acquiring) }) }

    /// Ends the transfers: the flag, a wake-up for the poll, the thread's end, and only then
    /// the handles freed (the wake-up must not meet a freed multi handle).
    func stop() async {
        stopping.store(true, ordering: .releasing)
        curl_multi_wakeup(multi)
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { [done] in
                done.wait()
                continuation.resume()
            }
        }
        for client in clients { curl_multi_remove_handle(multi, client.handle) }
        curl_multi_cleanup(multi)
    }

    /// When each position first reached any subscriber (read after ``stop()``).
    var firstArrivals: [Int64: ContinuousClock.Instant] {
        var first: [Int64: ContinuousClock.Instant] = [:]
        for client in clients {
            for arrival in client.arrivals where first[arrival.position].map({ arrival.at < $0 }) ?? true {
                first[arrival.position] = arrival.at
            }
        }
        return first
    }

    /// Each event's arrivals' delays, across the clients (`sent`: position → when the append began).
    func perEvent(sent: [Int64: ContinuousClock.Instant]) -> [Int64: LatencySamples] {
        var events: [Int64: LatencySamples] = [:]
        for client in clients {
            let seen = Dictionary(client.arrivals.map { ($0.position, $0.at) }, uniquingKeysWith: { first, _ in first })
            for (position, appended) in sent {
                if let arrived = seen[position] { events[position, default: LatencySamples()].record(arrived - appended) }
            }
        }
        return events
    }

    /// Each arrival's delay after its event was appended (`sent`: position → when the append began).
    func latencies(sent: [Int64: ContinuousClock.Instant]) -> (samples: LatencySamples, missing: Int) {
        var samples = LatencySamples()
        var missing = 0
        for client in clients {
            let seen = Dictionary(client.arrivals.map { ($0.position, $0.at) }, uniquingKeysWith: { first, _ in first })
            for (position, appended) in sent {
                if let arrived = seen[position] { samples.record(arrived - appended) } else { missing += 1 }
            }
        }
        return (samples, missing)
    }
}
