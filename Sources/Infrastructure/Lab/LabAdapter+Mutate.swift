import Foundation

extension LabAdapter {
    /// Rewrites `percent`% of every disk's 64 KiB blocks with new data, as guests' writes
    /// would: live snapshots keep the old contents (copy-on-write) and the writes are
    /// recorded for changed-block answers. Returns the blocks written per disk name.
    @discardableResult
    public func mutate(percent: Double, seed: UInt64 = 99) throws -> [String: [Int]] {
        guard percent > 0, percent <= 100 else {
            throw InfrastructureError(.invalidInput, "--percent must be above 0 and at most 100, not \(percent)")
        }
        let layout = store.layout
        return try store.update { state in
            var generator = DiskImageGenerator.Generator(state: seed &+ UInt64(state.nextSnapshotNumber) &* 7919)
            var written: [String: [Int]] = [:]
            for machine in state.inventory.virtualMachines {
                let live = (state.snapshots[machine.id] ?? []).map(\.info.id)
                for disk in machine.disks {
                    let name = LabLayout.diskName(vm: machine.id, key: disk.key)
                    let count = Int(disk.capacity / Int64(LabState.blockSize))
                    var chosen = Set<Int>()
                    let target = max(1, Int((Double(count) * percent / 100).rounded()))
                    while chosen.count < min(target, count) { chosen.insert(Int(generator.next() % UInt64(count))) }
                    let blocks = chosen.sorted()
                    var fresh = [UInt8](repeating: 0, count: LabState.blockSize)
                    try write(blocks, to: name, preservingFor: live, layout: layout) { _ in
                        DiskImageGenerator.fillRandom(&fresh, &generator)
                        return fresh
                    }
                    var history = state.history(name)
                    history.writes.append(LabWrite(epoch: history.epoch, blocks: blocks))
                    state.disks[name] = history
                    written[name] = blocks
                }
            }
            return written
        }
    }

    /// Writes `blocks` of `disk` with the contents `data` gives for each, after saving their
    /// old contents for every live snapshot that has not saved them yet (copy-on-write).
    func write(
        _ blocks: [Int], to disk: String, preservingFor snapshots: [String], layout: LabLayout, data: (Int) throws -> [UInt8]
    ) throws {
        let size = LabState.blockSize
        let descriptor = open(layout.disk(disk), O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { throw InfrastructureError(.io, "cannot open \(layout.disk(disk)) for writing") }
        defer { close(descriptor) }
        var original = [UInt8](repeating: 0, count: size)
        for snapshot in snapshots {
            let saved = savedBlocks(layout.copyOnWriteMap(snapshot, disk))
            let copy = open(layout.copyOnWrite(snapshot, disk), O_WRONLY | O_APPEND | O_CLOEXEC)
            let map = open(layout.copyOnWriteMap(snapshot, disk), O_WRONLY | O_APPEND | O_CLOEXEC)
            defer {
                if copy >= 0 { close(copy) }
                if map >= 0 { close(map) }
            }
            guard copy >= 0, map >= 0 else { throw InfrastructureError(.io, "cannot open the copy-on-write files of \(snapshot)") }
            for block in blocks where !saved.contains(block) {
                try original.withUnsafeMutableBytes { buffer in
                    try readFully(descriptor, path: layout.disk(disk), size: 0, at: Int64(block) * Int64(size), into: buffer)
                }
                // The data first, then its map entry: a reader never finds an entry without data.
                try append(original, to: copy, what: "copy-on-write data")
                try append(CopyOnWriteMap.entry(block), to: map, what: "copy-on-write map")
            }
        }
        for block in blocks {
            let fresh = try data(block)
            let result = fresh.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, size, off_t(block) * off_t(size)) }
            guard result == size else { throw InfrastructureError(.io, "cannot write block \(block) of \(disk)") }
        }
    }

    private func savedBlocks(_ mapPath: String) -> Set<Int> {
        Set(CopyOnWriteMap.blocks([UInt8](FileManager.default.contents(atPath: mapPath) ?? Data())))
    }

    private func append(_ bytes: [UInt8], to descriptor: Int32, what: String) throws {
        let result = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, bytes.count) }
        guard result == bytes.count else { throw InfrastructureError(.io, "cannot append to the \(what)") }
    }
}
