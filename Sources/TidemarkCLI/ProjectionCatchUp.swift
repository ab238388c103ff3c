import EventStore
import Foundation
import Logging
import Projections

/// Brings every projection up to the log's head before a command that appended exits, so
/// `reporting.*` answers with what the command did even when no `tidemark server` or
/// `projections follow` runs. A failure here does not undo or fail the command (its events
/// stand); it is said on stderr, with how to catch up by hand.
enum ProjectionCatchUp {
    static func afterAppending(_ store: EventStore, logger: Logger) async {
        do {
            try await Projector(store: store, logger: logger).catchUp()
        } catch {
            FileHandle.standardError.write(
                Data(
                    "warning: the reporting views could not be brought up to date (\(error)); run 'tidemark projections follow' or 'tidemark server'\n"
                        .utf8))
        }
    }
}
