import Catalog
import EventStore
import Foundation
import WorkflowEvents

/// Prints a session as it runs, for `job start` and the demo: its steps one line each, and
/// its progress as a line that updates in place on a terminal (`\r`, then clearing the line)
/// or, when standard output is a file or a pipe, as a plain line at most every few seconds
/// and once more when the transfers are done.
struct SessionProgressPrinter {
    /// Whether standard output is a terminal.
    let terminal: Bool
    /// Indentation of every line.
    var indent = "  "
    /// On a pipe: the least time between two progress lines.
    var plainInterval: TimeInterval = 3

    private var progress = SessionProgress()
    /// The progress line now drawn at the bottom of the terminal.
    private var drawn: String?
    /// On a pipe: the progress line not printed yet, and when the last one was.
    private var pending: String?
    private var lastPlain: Date?

    init(terminal: Bool = isatty(STDOUT_FILENO) == 1) {
        self.terminal = terminal
    }

    /// Follows the session's stream until it finishes (or the task is cancelled). Events
    /// recorded at or before `head` are folded without printing, so a resumed session's
    /// progress counts what was done before.
    static func follow(store: EventStore, session: String, after head: Int64, terminal: Bool = isatty(STDOUT_FILENO) == 1) async throws {
        var printer = SessionProgressPrinter(terminal: terminal)
        let stream = SessionEvent.stream(of: session)
        for event in try await store.readStream(try StreamName(stream), limit: 1_000_000) where event.position <= head {
            _ = printer.progress.apply(event, live: false)
        }
        for try await event in store.subscribe(after: head, category: SessionEvent.category) where event.stream == stream {
            if event.type == SessionEvent.Kind.sessionFinished.rawValue {
                printer.finish()
                return
            }
            printer.show(printer.progress.apply(event), at: event.recordedAt)
        }
    }

    /// Waits for a follower to print the session's end (the subscription sees it moments after
    /// the append), at most two seconds, then stops it.
    static func finish(_ follower: Task<Void, any Error>?) async {
        guard let follower else { return }
        let deadline = Task {
            try await Task.sleep(for: .seconds(2))
            follower.cancel()
        }
        _ = try? await follower.value
        deadline.cancel()
    }

    private mutating func show(_ outputs: [SessionProgress.Output], at time: Date) {
        for output in outputs {
            switch output {
            case .step(let line):
                if terminal {
                    write("\r\u{1B}[2K" + indent + line + "\n" + (drawn.map { indent + $0 } ?? ""))
                } else {
                    write(indent + line + "\n")
                }
            case .progress(let line, let final):
                if terminal {
                    drawn = line
                    write("\r\u{1B}[2K" + indent + line)
                } else if final || lastPlain.map({ time.timeIntervalSince($0) >= plainInterval }) ?? true {
                    write(indent + line + "\n")
                    lastPlain = time
                    pending = nil
                } else {
                    pending = line
                }
            }
        }
    }

    /// The last progress stays on screen as a line of its own.
    private mutating func finish() {
        if terminal, drawn != nil {
            write("\n")
        } else if let pending {
            write(indent + pending + "\n")
        }
        drawn = nil
        pending = nil
    }

    private func write(_ text: String) {
        print(text, terminator: "")
        fflush(nil)  // a line drawn without a newline shows only when flushed
    }
}
