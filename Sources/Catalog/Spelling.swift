/// The word a mistyped one most likely meant, for "did you mean ...?" hints: schedule
/// keywords and weekdays, definition-file keys, the command line's subcommands.
public enum Spelling {
    /// The candidate closest to `word` (case-insensitive), if it is close enough to be a typo:
    /// at most `maximum` edits, and fewer edits than half of the word's letters, so short words
    /// are not "corrected" into unrelated ones. Ties go to the earlier candidate.
    public static func nearest(to word: String, among candidates: [String], maximum: Int = 2) -> String? {
        let key = word.lowercased()
        guard !key.isEmpty else { return nil }
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = self.distance(key, candidate.lowercased())
            if distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
        }
        guard let best, best.distance <= maximum, best.distance * 2 < max(key.count, best.candidate.count) else { return nil }
        return best.candidate
    }

    /// Edits between two words: insertions, deletions, substitutions and swaps of two
    /// neighbouring letters ("strat" is one edit from "start"), each counting one.
    public static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        // rows[i][j]: edits between the first i letters of a and the first j of b.
        var rows = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { rows[i][0] = i }
        for j in 0...b.count { rows[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let substitution = rows[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                var best = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, substitution)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { best = min(best, rows[i - 2][j - 2] + 1) }
                rows[i][j] = best
            }
        }
        return rows[a.count][b.count]
    }
}
