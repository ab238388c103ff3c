import CLibPQ

/// Owns one `PGconn` and finishes it exactly once.
///
/// Kept apart from the actor so that releasing the native connection does not depend on
/// the actor's isolation: whoever drops the last reference frees it.
final class ConnectionHandle: @unchecked Sendable {
    private(set) var pointer: OpaquePointer?

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    func finish() {
        if let pointer {
            PQfinish(pointer)
            self.pointer = nil
        }
    }

    deinit { finish() }
}
