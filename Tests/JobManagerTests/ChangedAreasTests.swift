import Infrastructure
import Testing

@testable import JobManager

/// The areas a rollback writes back: merged where they touch, found by halving, each byte once.
@Suite("Changed areas of a rollback")
struct ChangedAreasTests {
    @Test("overlapping and touching areas merge; a block's parts are clipped to it, in order")
    func parts() {
        let areas = ChangedAreas([
            DiskArea(offset: 100, length: 50), DiskArea(offset: 0, length: 10), DiskArea(offset: 140, length: 20),
            DiskArea(offset: 160, length: 5), DiskArea(offset: 300, length: 0), DiskArea(offset: 500, length: 100),
        ])
        #expect(areas.bytes == 10 + 65 + 100)
        #expect(areas.parts(of: 0..<64).map { [$0.start, $0.end] } == [[0, 10]])
        #expect(areas.parts(of: 64..<128).map { [$0.start, $0.end] } == [[100, 128]])
        #expect(areas.parts(of: 128..<192).map { [$0.start, $0.end] } == [[128, 165]])
        #expect(areas.parts(of: 192..<500).isEmpty)
        #expect(areas.parts(of: 0..<1_000).map { [$0.start, $0.end] } == [[0, 10], [100, 165], [500, 600]])
        #expect(ChangedAreas([]).parts(of: 0..<10).isEmpty)
    }

    @Test("a million areas: every block's parts found, none lost, none twice")
    func many() {
        // Every other 4 KiB of a 8 GB disk written: 1,000,000 areas, given out of order.
        let areas = (0..<1_000_000).reversed().map { DiskArea(offset: Int64($0) * 8_192, length: 4_096) }
        let changed = ChangedAreas(areas)
        var total: Int64 = 0
        for block in stride(from: Int64(0), to: 8_192_000_000, by: 1 << 20) {
            total += changed.parts(of: block..<(block + (1 << 20))).reduce(0) { $0 + $1.end - $1.start }
        }
        #expect(total == 4_096_000_000 && changed.bytes == total)
    }
}
