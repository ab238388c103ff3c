import Catalog
import CommandLineSupport
import Foundation
import JobManager
import WorkflowEvents

/// The session report `job start` and the demo print: statistics, VMs, bottleneck.
enum SessionReportPrinter {
    static func megabytes(_ bytes: Int64) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }

    static func print(_ report: SessionReport) {
        let finished = report.finished
        let rate = finished.durationSeconds > 0 ? Double(finished.processedBytes) / finished.durationSeconds / 1e6 : 0
        Swift.print(
            """

            session \(report.session): \(finished.result)\(finished.reason.map { " — " + $0 } ?? "")
              processed \(megabytes(finished.processedBytes)), read \(megabytes(finished.readBytes)), transferred \(megabytes(finished.transferredBytes)) in \(String(format: "%.2f", finished.durationSeconds)) s (\(String(format: "%.0f", rate)) MB/s)
              dedupe \(finished.dedupeRatio.map { String(format: "%.2fx", $0) } ?? "-"), compression \(finished.compressionRatio.map { String(format: "%.2fx", $0) } ?? "-")
            """)
        if let busy = finished.busy {
            Swift.print(
                "  bottleneck: \(finished.bottleneck ?? busy.bottleneck) (busy: source \(busy.source)%, proxy \(busy.proxy)%, network \(busy.network)%, target \(busy.target)%)"
            )
        }
        var rows = [["VM", "RESULT", "READ", "TRANSFERRED", "RESTORE POINT"]]
        for machine in report.machines {
            rows.append([
                machine.name, machine.result.rawValue, megabytes(machine.readBytes), megabytes(machine.transferredBytes),
                machine.restorePoint ?? "-",
            ])
        }
        Swift.print(TextTable.render(rows, rightAligned: [2, 3]).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        for machine in report.machines {
            if let reason = machine.reason { Swift.print("  \(machine.name) \(machine.result): \(reason)") }
        }
        Swift.print("  \(report.events) events on \(SessionEvent.stream(of: report.session))")
    }
}
