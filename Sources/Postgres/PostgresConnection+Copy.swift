import CLibPQ
import Foundation

extension PostgresConnection {
    /// Loads rows with `COPY ... FROM STDIN` in text format and returns how many the server stored.
    ///
    /// `sql` is the COPY statement (`COPY schema.table (a, b) FROM STDIN`); each row has one
    /// optional text per column, nil meaning NULL. If a row is refused the whole COPY is, and
    /// nothing is stored.
    @discardableResult
    public func copyFromStdin(_ sql: String, rows: some Sequence<[String?]>) throws(PostgresError) -> Int {
        let label = statementLabel(sql)
        let pointer = try livePointer(label)
        let start = try check(PQexec(pointer, sql), statement: label)
        guard start.isCopyIn else {
            throw PostgresError(.invalidInput, message: "the statement is not a COPY ... FROM STDIN", statement: label)
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 16)
        var failure: PostgresError?
        for row in rows {
            for (index, field) in row.enumerated() {
                if index > 0 { buffer.append(9) }
                guard let field else {
                    buffer.append(contentsOf: [92, 78])  // \N
                    continue
                }
                for byte in field.utf8 {
                    switch byte {
                    case 92: buffer.append(contentsOf: [92, 92])
                    case 9: buffer.append(contentsOf: [92, 116])
                    case 10: buffer.append(contentsOf: [92, 110])
                    case 13: buffer.append(contentsOf: [92, 114])
                    case 0:
                        failure = PostgresError(
                            .invalidInput, message: "a COPY field contains a NUL character", statement: label)
                    default: buffer.append(byte)
                    }
                }
            }
            buffer.append(10)
            if failure != nil { break }
            if buffer.count >= 1 << 16 {
                try sendCopyData(pointer, &buffer, label)
            }
        }
        if failure == nil && !buffer.isEmpty { try sendCopyData(pointer, &buffer, label) }
        let ended = PQputCopyEnd(pointer, failure == nil ? nil : "client refused a row")
        if ended != 1 { throw connectionError(statement: label, fallback: "COPY could not be ended") }
        var stored = 0
        var serverError: PostgresError?
        while let result = PQgetResult(pointer) {
            do {
                let checked = try check(result, statement: label)
                stored = checked.affectedRows
            } catch {
                serverError = serverError ?? error
            }
        }
        if let failure { throw failure }
        if let serverError { throw serverError }
        return stored
    }

    private func sendCopyData(_ pointer: OpaquePointer, _ buffer: inout [UInt8], _ label: String) throws(PostgresError) {
        let sent = buffer.withUnsafeBufferPointer { bytes in
            bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                PQputCopyData(pointer, $0, Int32(bytes.count))
            }
        }
        buffer.removeAll(keepingCapacity: true)
        if sent != 1 { throw connectionError(statement: label, fallback: "COPY data could not be sent") }
    }
}
