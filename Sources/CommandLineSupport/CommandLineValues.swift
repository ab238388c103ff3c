import ArgumentParser
import Foundation

/// Reads a size such as `512K`, `64M`, `1.5G` for `option`, refusing one outside `range`.
public func parseSize(_ text: String, option: String, range: ClosedRange<Int64>) throws -> Int64 {
    let upper = text.uppercased()
    for (suffix, factor) in [("K", Double(1 << 10)), ("M", Double(1 << 20)), ("G", Double(1 << 30))] where upper.hasSuffix(suffix) {
        if let value = Double(upper.dropLast()), value > 0, value * factor <= Double(range.upperBound) {
            let bytes = Int64(value * factor)
            if range.contains(bytes) { return bytes }
        }
    }
    throw ValidationError(
        "\(option) '\(text)' is not a size from \(describe(range.lowerBound)) to \(describe(range.upperBound)): write it as 512K, 64M or 2G"
    )
}

private func describe(_ bytes: Int64) -> String {
    for (unit, factor) in [("T", Int64(1) << 40), ("G", Int64(1) << 30), ("M", Int64(1) << 20), ("K", Int64(1) << 10)]
    where bytes >= factor && bytes % factor == 0 {
        return "\(bytes / factor)\(unit)"
    }
    return "\(bytes) bytes"
}

/// The path of a program on PATH (or in /usr/bin), if it is installed.
public func executable(named program: String) -> String? {
    // Typed as strings: left to inference, PATH's folders became arrays of characters (paths
    // such as ["/", "b", "i", "n"]/psql), and only the /usr/bin added here was ever searched.
    let directories: [String] = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin"]
    for directory in directories {
        let path = "\(directory)/\(program)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}
