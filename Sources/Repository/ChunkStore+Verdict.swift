extension ChunkStore {
    /// What is wrong with a chunk a manifest names for a block of `length` bytes (missing,
    /// corrupt, the wrong length), or nil when it reads back whole. Read once per check: a
    /// chunk met again gets the verdict remembered in `verdicts`, as verification and health
    /// checks both want (many restore points share most chunks).
    func verdict(of chunk: ChunkID, length: Int, remembered verdicts: inout [ChunkID: ChunkProblem?]) -> ChunkProblem? {
        if let known = verdicts[chunk] { return known }
        let verdict: ChunkProblem?
        switch read(chunk) {
        case .success(let block): verdict = block.count == length ? nil : .damaged("wrong length")
        case .failure(let problem): verdict = problem
        }
        verdicts[chunk] = verdict
        return verdict
    }
}
