import Infrastructure

/// The areas of a disk written since a restore point, sorted and merged, so a rollback finds
/// a block's parts in them by halving: the cost per block grows with the logarithm of the
/// areas, not with their number (change tracking can report millions of small areas).
struct ChangedAreas: Sendable {
    private let starts: [Int64]
    private let ends: [Int64]

    init(_ areas: [DiskArea]) {
        var starts: [Int64] = []
        var ends: [Int64] = []
        for area in areas.filter({ $0.length > 0 }).sorted(by: { $0.offset < $1.offset }) {
            let end = area.offset + area.length
            if let last = ends.last, area.offset <= last {
                // Touching or overlapping: one area, so no byte is written twice.
                ends[ends.count - 1] = max(last, end)
            } else {
                starts.append(area.offset)
                ends.append(end)
            }
        }
        self.starts = starts
        self.ends = ends
    }

    /// Bytes in the areas.
    var bytes: Int64 { zip(starts, ends).reduce(0) { $0 + $1.1 - $1.0 } }

    /// The parts of `range` inside the areas, in order (empty: none of it changed).
    func parts(of range: Range<Int64>) -> [(start: Int64, end: Int64)] {
        // The first area ending after the range starts.
        var low = 0
        var high = ends.count
        while low < high {
            let middle = (low + high) / 2
            if ends[middle] <= range.lowerBound { low = middle + 1 } else { high = middle }
        }
        var parts: [(start: Int64, end: Int64)] = []
        var index = low
        while index < starts.count, starts[index] < range.upperBound {
            parts.append((max(starts[index], range.lowerBound), min(ends[index], range.upperBound)))
            index += 1
        }
        return parts
    }
}
