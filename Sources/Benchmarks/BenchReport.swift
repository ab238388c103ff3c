import CommandLineSupport
import DataMover
import Foundation

/// One measured figure beside its reference: the same work done by bare PostgreSQL (or a
/// peer tool) on the same server in the same run.
struct BenchCase: Codable {
    let name: String
    let value: Double
    let unit: String
    let reference: Double
}

/// Prints bench results: an aligned table for people, or `{"cases":[...]}` with `--json`.
enum BenchReport {
    static func print(_ cases: [BenchCase], json: Bool, notes: [String]) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = (try? encoder.encode(["cases": cases])) ?? Data()
            Swift.print(String(decoding: data, as: UTF8.self))
            return
        }
        let rows = cases.map { item -> [String] in
            let ratio = item.reference == 0 ? "-" : String(format: "%.0f%%", item.value / item.reference * 100)
            return [item.name, format(item.value), item.unit, format(item.reference), ratio]
        }
        let header = ["case", "tidemark", "unit", "reference", "tidemark/reference"]
        Swift.print(TextTable.render([header] + rows, rightAligned: [1, 3, 4], rule: true), terminator: "")
        for note in notes { Swift.print(note) }
    }

    private static func format(_ value: Double) -> String {
        value >= 100 ? String(format: "%.0f", value) : String(format: "%.2f", value)
    }
}

/// Latencies of individual operations, for percentiles.
struct LatencySamples {
    private(set) var milliseconds: [Double] = []

    init(milliseconds: [Double] = []) {
        self.milliseconds = milliseconds
    }

    mutating func record(_ duration: Duration) {
        milliseconds.append(duration.seconds * 1_000)
    }

    mutating func merge(_ other: LatencySamples) {
        milliseconds += other.milliseconds
    }

    func percentile(_ fraction: Double) -> Double {
        guard !milliseconds.isEmpty else { return 0 }
        let sorted = milliseconds.sorted()
        let index = min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)
        return sorted[max(0, index)]
    }
}
