import Foundation
import Infrastructure
import Synchronization
import Testing

@testable import VSphere

@Suite("Read-ahead of a remote disk: larger ranges for sequential reads, only what is asked for sparse ones")
struct RangeReadAheadTests {
    static let mebibyte = 1 << 20

    /// A disk of pseudo-random bytes behind a fetch that counts its requests.
    final class FakeDisk: Sendable {
        let size: Int64
        let content: [UInt8]
        private let counters = Mutex((requests: 0, bytes: Int64(0), failuresLeft: 0))

        init(size: Int64, failures: Int = 0) {
            self.size = size
            var content = [UInt8](repeating: 0, count: Int(size))
            content.withUnsafeMutableBytes { raw in
                var state: UInt64 = 0x9E37_79B9_7F4A_7C15
                for word in 0..<(raw.count / 8) {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    raw.storeBytes(of: state, toByteOffset: word * 8, as: UInt64.self)
                }
                for index in (raw.count / 8 * 8)..<raw.count { raw[index] = UInt8(index & 0xFF) }
            }
            self.content = content
            counters.withLock { $0.failuresLeft = failures }
        }

        var requests: Int { counters.withLock { $0.requests } }
        var fetchedBytes: Int64 { counters.withLock { $0.bytes } }

        func fetch(_ offset: Int64, _ buffer: UnsafeMutableRawBufferPointer) throws(InfrastructureError) {
            let fail = counters.withLock { counters -> Bool in
                counters.requests += 1
                if counters.failuresLeft > 0 {
                    counters.failuresLeft -= 1
                    return true
                }
                counters.bytes += Int64(buffer.count)
                return false
            }
            if fail { throw InfrastructureError(.diskUnreadable, "the fake disk fails once at \(offset)") }
            precondition(offset >= 0 && offset + Int64(buffer.count) <= size, "a fetch past the end")
            content.withUnsafeBytes {
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset) + buffer.count]))
            }
        }

        /// Whether `buffer` holds the disk's bytes at `offset`.
        func matches(_ buffer: UnsafeRawBufferPointer, at offset: Int64) -> Bool {
            content.withUnsafeBytes { memcmp($0.baseAddress! + Int(offset), buffer.baseAddress!, buffer.count) == 0 }
        }

        func readAhead() -> RangeReadAhead {
            RangeReadAhead(size: size) { offset, buffer throws(InfrastructureError) in try self.fetch(offset, buffer) }
        }
    }

    /// Reads blocks `indexes` of `blockSize`, `parallel` at a time (reader i takes every
    /// `parallel`-th from the i-th, so the reads go forward together, as the data mover's do),
    /// checking every byte.
    static func read(_ source: RangeReadAhead, of disk: FakeDisk, blocks indexes: [Int], blockSize: Int, parallel: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<parallel {
                let mine = Array(indexes.dropFirst(lane).enumerated().filter { $0.offset % parallel == 0 }.map(\.element))
                group.addTask {
                    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 16)
                    defer { buffer.deallocate() }
                    for index in mine {
                        let offset = Int64(index) * Int64(blockSize)
                        try await source.read(at: offset, into: buffer)
                        #expect(disk.matches(UnsafeRawBufferPointer(buffer), at: offset), "block \(index) differs")
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test("a whole disk read in 1 MiB blocks, four at a time, takes a dozen range requests and little more than the disk")
    func sequential() async throws {
        let disk = FakeDisk(size: 64 * Int64(Self.mebibyte))
        try await Self.read(disk.readAhead(), of: disk, blocks: Array(0..<64), blockSize: Self.mebibyte, parallel: 4)
        // About a dozen requests and the disk plus a window on an idle machine; on a loaded one
        // the four lanes drift apart and a window may be fetched again, but never a request
        // per block nor the disk twice over.
        #expect(disk.requests < 64, "\(disk.requests) requests")
        #expect(disk.fetchedBytes >= disk.size && disk.fetchedBytes < 2 * disk.size, "\(disk.fetchedBytes) bytes")
    }

    @Test("changed blocks scattered over the disk fetch exactly their own bytes")
    func sparse() async throws {
        let disk = FakeDisk(size: 64 * Int64(Self.mebibyte))
        let changed = Array(stride(from: 1, to: 64, by: 5))
        try await Self.read(disk.readAhead(), of: disk, blocks: changed, blockSize: Self.mebibyte, parallel: 4)
        #expect(disk.requests == changed.count)
        #expect(disk.fetchedBytes == Int64(changed.count * Self.mebibyte))
    }

    @Test("two readers going through different halves at once both read ahead, and the bytes are right")
    func concurrentRuns() async throws {
        let disk = FakeDisk(size: 96 * Int64(Self.mebibyte) + 12_345)
        let source = disk.readAhead()
        async let first: Void = Self.read(source, of: disk, blocks: Array(0..<48), blockSize: Self.mebibyte, parallel: 1)
        async let second: Void = Self.read(source, of: disk, blocks: Array(48..<96), blockSize: Self.mebibyte, parallel: 1)
        _ = try await (first, second)
        #expect(disk.requests <= 2 * 12, "\(disk.requests) requests")
        #expect(disk.fetchedBytes <= disk.size + 16 * Int64(Self.mebibyte), "\(disk.fetchedBytes) bytes")
        // The last partial kilobytes, through the same windows.
        let tail = UnsafeMutableRawBufferPointer.allocate(byteCount: 12_345, alignment: 16)
        defer { tail.deallocate() }
        try await source.read(at: 96 * Int64(Self.mebibyte), into: tail)
        #expect(disk.matches(UnsafeRawBufferPointer(tail), at: 96 * Int64(Self.mebibyte)))
    }

    @Test("a failed range fails the reads waiting on it; the next read fetches it again")
    func failureIsNotCached() async throws {
        let disk = FakeDisk(size: 8 * Int64(Self.mebibyte), failures: 1)
        let source = disk.readAhead()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.mebibyte, alignment: 16)
        defer { buffer.deallocate() }
        await #expect(throws: InfrastructureError.self) { try await source.read(at: 0, into: buffer) }
        try await source.read(at: 0, into: buffer)
        #expect(disk.matches(UnsafeRawBufferPointer(buffer), at: 0))
    }

    @Test("reads as large as a window go straight to the caller, in one request each")
    func largeReads() async throws {
        let disk = FakeDisk(size: 32 * Int64(Self.mebibyte))
        try await Self.read(disk.readAhead(), of: disk, blocks: [0, 1, 2, 3], blockSize: 8 * Self.mebibyte, parallel: 2)
        #expect(disk.requests == 4 && disk.fetchedBytes == disk.size)
    }
}
