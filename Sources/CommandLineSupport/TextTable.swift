/// Aligned columns of plain text, for `list` commands and bench reports.
public enum TextTable {
    /// The first row is the header; `rightAligned` columns (numbers) line up on the right;
    /// `rule` draws dashes under the header.
    public static func render(_ rows: [[String]], rightAligned: Set<Int> = [], rule: Bool = false) -> String {
        guard let header = rows.first else { return "" }
        var widths = Array(repeating: 0, count: header.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (index, cell) in cells.enumerated() {
                let padding = String(repeating: " ", count: max(0, widths[index] - cell.count))
                let last = index == cells.count - 1
                if rightAligned.contains(index) {
                    text += padding + cell
                } else {
                    text += last ? cell : cell + padding
                }
                if !last { text += "  " }
            }
            return text + "\n"
        }
        var output = line(header)
        if rule { output += line(widths.map { String(repeating: "-", count: $0) }) }
        for row in rows.dropFirst() { output += line(row) }
        return output
    }
}
