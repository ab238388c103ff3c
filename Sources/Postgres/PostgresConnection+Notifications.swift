import CLibPQ
import Foundation

extension PostgresConnection {
    /// Subscribes this connection to a channel. The name is quoted as an identifier, so any
    /// text is safe; it is case-sensitive as written.
    public func listen(_ channel: String) throws(PostgresError) {
        let pointer = try livePointer("LISTEN")
        guard let quoted = quoteIdentifier(channel, pointer) else {
            throw PostgresError(.invalidInput, message: "channel name '\(channel)' cannot be quoted", statement: "LISTEN")
        }
        try execute("LISTEN \(quoted)", label: "LISTEN")
    }

    /// Sends a notification through `pg_notify`, delivered when the current transaction commits.
    public func notify(_ channel: String, payload: String = "") throws(PostgresError) {
        try query("SELECT pg_notify($1, $2)", [channel, payload])
    }

    /// Returns the notifications that have arrived, waiting up to `timeout` for the first one.
    ///
    /// The wait is a `poll()` on the connection's socket, on the connection's own thread. An
    /// empty array means the timeout passed; a broken connection throws `connectionLost`.
    public func waitForNotifications(timeout: Duration) throws(PostgresError) -> [PostgresNotification] {
        let pointer = try livePointer("LISTEN wait")
        var received = try drainNotifications(pointer)
        if !received.isEmpty { return received }
        let socket = PQsocket(pointer)
        guard socket >= 0 else { throw connectionError(statement: "LISTEN wait", fallback: "no socket") }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let (seconds, attoseconds) = timeout.components
        let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        let ready = poll(&descriptor, 1, max(milliseconds, 0))
        if ready < 0 && errno != EINTR {
            throw connectionError(statement: "LISTEN wait", fallback: "poll failed: \(String(cString: strerror(errno)))")
        }
        if ready > 0 {
            received = try drainNotifications(pointer)
        }
        return received
    }

    private func drainNotifications(_ pointer: OpaquePointer) throws(PostgresError) -> [PostgresNotification] {
        guard PQconsumeInput(pointer) == 1 else {
            throw connectionError(statement: "LISTEN wait", fallback: "the connection was closed")
        }
        var notifications: [PostgresNotification] = []
        while let notify = PQnotifies(pointer) {
            notifications.append(
                PostgresNotification(
                    channel: String(cString: notify.pointee.relname),
                    payload: String(cString: notify.pointee.extra),
                    processID: notify.pointee.be_pid))
            PQfreemem(notify)
        }
        return notifications
    }

    private func quoteIdentifier(_ identifier: String, _ pointer: OpaquePointer) -> String? {
        let utf8 = Array(identifier.utf8)
        guard !utf8.isEmpty, !utf8.contains(0) else { return nil }
        guard let quoted = PQescapeIdentifier(pointer, identifier, utf8.count) else { return nil }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }
}
