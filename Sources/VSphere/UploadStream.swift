import Foundation
import Infrastructure

/// Bytes handed from a restore to libcurl's upload of one file: the restore appends (on the
/// blocking I/O pool, waiting while the buffer is full), libcurl's read callback takes them on
/// its own thread. Bounded, so a slow datastore slows the restore instead of filling memory.
final class UploadStream: @unchecked Sendable {
    private let condition = NSCondition()
    private var chunks: [[UInt8]] = []
    private var offsetInFirst = 0
    private var buffered = 0
    private var closed = false
    /// Set when the upload ended early (an HTTP error, a dropped connection) or was abandoned.
    private var ended = false
    private let limit: Int

    init(limit: Int = 16 << 20) {
        self.limit = limit
    }

    /// Adds bytes; waits while `limit` bytes wait for libcurl. Throws once the upload ended.
    func append(_ bytes: [UInt8]) throws(InfrastructureError) {
        condition.lock()
        defer { condition.unlock() }
        while buffered >= limit && !ended { condition.wait() }
        guard !ended else { throw InfrastructureError(.io, "the upload ended before all of its bytes were sent") }
        chunks.append(bytes)
        buffered += bytes.count
        condition.broadcast()
    }

    /// No more bytes: libcurl ends the body once it has taken what is buffered.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// The upload is over (done or failed): producers stop waiting.
    func end() {
        condition.lock()
        ended = true
        chunks.removeAll()
        buffered = 0
        condition.broadcast()
        condition.unlock()
    }

    /// libcurl's read callback: copies up to `count` bytes, waiting for some; 0 at the end.
    func read(into buffer: UnsafeMutablePointer<CChar>, count: Int) -> Int {
        condition.lock()
        defer { condition.unlock() }
        while chunks.isEmpty && !closed && !ended { condition.wait() }
        if ended { return Int(CURL_READFUNC_ABORT_VALUE) }
        var copied = 0
        while copied < count, let first = chunks.first {
            let take = min(count - copied, first.count - offsetInFirst)
            first.withUnsafeBytes { bytes in
                UnsafeMutableRawPointer(buffer + copied).copyMemory(from: bytes.baseAddress! + offsetInFirst, byteCount: take)
            }
            copied += take
            offsetInFirst += take
            if offsetInFirst == first.count {
                chunks.removeFirst()
                offsetInFirst = 0
            }
        }
        buffered -= copied
        condition.broadcast()
        return copied
    }
}

/// libcurl's CURL_READFUNC_ABORT (a macro Swift does not import).
let CURL_READFUNC_ABORT_VALUE: Int = 0x1000_0000
