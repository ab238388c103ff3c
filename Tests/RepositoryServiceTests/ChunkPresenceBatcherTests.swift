import Foundation
import Repository
import Synchronization
import Testing

@testable import RemoteRepository

/// The presence questions of blocks in flight, gathered: fewer requests than questions, each
/// asker its own answer, a failed request the failure of every name in it.
@Suite("Chunk presence questions gathered into requests")
struct ChunkPresenceBatcherTests {
    static func name(_ index: Int) -> ChunkID {
        withUnsafeBytes(of: UInt64(index).littleEndian) { ChunkID(hashing: $0) }
    }

    @Test("16 threads asking 40 names each: every answer right, far fewer requests than names")
    func gathered() throws {
        let batcher = ChunkPresenceBatcher()
        let held = Set((0..<640).filter { $0 % 3 == 0 }.map(Self.name))
        let requests = Atomic<Int>(0)
        let wrong = Atomic<Int>(0)
        // Threads of their own, as a transfer's 16 blocks in flight have (a concurrentPerform
        // would run only as many at once as there are cores).
        let group = DispatchGroup()
        for thread in 0..<16 {
            group.enter()
            Thread {
                defer { group.leave() }
                Self.ask(thread: thread, batcher: batcher, held: held, requests: requests, wrong: wrong)
            }.start()
        }
        group.wait()
        #expect(wrong.load(ordering: .relaxed) == 0)
        #expect(requests.load(ordering: .relaxed) < 640 / 4, "\(requests.load(ordering: .relaxed)) requests for 640 questions")
    }

    static func ask(
        thread: Int, batcher: ChunkPresenceBatcher, held: Set<ChunkID>, requests: borrowing Atomic<Int>, wrong: borrowing Atomic<Int>
    ) {
        for step in 0..<40 {
            // Two threads ask each name: the same name may be in flight for both.
            let index = (thread / 2) * 80 + step * 2 + thread % 2
            let id = Self.name(index % 640)
            let answer = try? batcher.holds(id) { names throws(RepositoryError) in
                requests.add(1, ordering: .relaxed)
                usleep(2_000)  // a round trip, during which the others' questions gather
                return names.subtracting(held)
            }
            if answer != held.contains(id) { wrong.add(1, ordering: .relaxed) }
        }
    }

    @Test("a failed request fails every name it carried, and the next question asks again")
    func failure() throws {
        let batcher = ChunkPresenceBatcher()
        let id = Self.name(1)
        let error = #expect(throws: RepositoryError.self) {
            try batcher.holds(id) { _ throws(RepositoryError) in throw RepositoryError(.unreachable, "the link is down") }
        }
        #expect(error?.code == .unreachable)
        #expect(try batcher.holds(id) { names throws(RepositoryError) in [] } == true)
        #expect(try batcher.holds(id) { names throws(RepositoryError) in names } == false)
    }
}
