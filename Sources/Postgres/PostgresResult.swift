import CLibPQ

/// The rows a statement returned.
///
/// It owns libpq's result and reads fields straight from it; a `PGresult` no longer
/// depends on its connection, so the result can be read on any thread after the
/// connection has moved on.
public final class PostgresResult: @unchecked Sendable {
    private let handle: OpaquePointer
    /// What the result belongs to, for decoding errors.
    public let statement: String
    public let rowCount: Int
    public let columnCount: Int

    init(handle: OpaquePointer, statement: String) {
        self.handle = handle
        self.statement = statement
        self.rowCount = Int(PQntuples(handle))
        self.columnCount = Int(PQnfields(handle))
    }

    deinit { PQclear(handle) }

    /// True for the result that opens a `COPY ... FROM STDIN`.
    var isCopyIn: Bool { PQresultStatus(handle) == PGRES_COPY_IN }

    /// The command tag, such as `INSERT 0 1`.
    public var commandTag: String { String(cString: PQcmdStatus(handle)) }

    /// Rows changed by an INSERT, UPDATE, DELETE or COPY.
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

    public func columnName(_ column: Int) -> String { String(cString: PQfname(handle, Int32(column))) }

    public func isNull(_ row: Int, _ column: Int) -> Bool {
        PQgetisnull(handle, Int32(row), Int32(column)) == 1
    }

    /// Decodes one field; a NULL or a value of another type is an error that names the statement and column.
    public func decode<T: PostgresDecodable>(_ row: Int, _ column: Int, as type: T.Type = T.self) throws -> T {
        guard let value = try decodeIfPresent(row, column, as: type) else {
            throw PostgresError(
                .decoding, message: "column '\(columnName(column))' is NULL, expected \(T.self)",
                statement: statement)
        }
        return value
    }

    /// Decodes one field, NULL giving nil.
    public func decodeIfPresent<T: PostgresDecodable>(
        _ row: Int, _ column: Int, as type: T.Type = T.self
    ) throws
        -> T?
    {
        guard row < rowCount, column < columnCount else {
            throw PostgresError(
                .decoding, message: "no field at row \(row), column \(column) (\(rowCount)×\(columnCount))",
                statement: statement)
        }
        if isNull(row, column) { return nil }
        let length = Int(PQgetlength(handle, Int32(row), Int32(column)))
        let pointer = PQgetvalue(handle, Int32(row), Int32(column))!
        let decoded = pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            T(postgresText: UnsafeBufferPointer(start: $0, count: length))
        }
        guard let decoded else {
            throw PostgresError(
                .decoding, message: "column '\(columnName(column))' does not hold a \(T.self)",
                statement: statement)
        }
        return decoded
    }

    /// The rows, for `for row in result.rows`.
    public var rows: [PostgresRow] { (0..<rowCount).map { PostgresRow(result: self, index: $0) } }
}

/// One row of a `PostgresResult`.
public struct PostgresRow: Sendable {
    public let result: PostgresResult
    public let index: Int

    public func decode<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws -> T {
        try result.decode(index, column, as: type)
    }

    public func decodeIfPresent<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws -> T? {
        try result.decodeIfPresent(index, column, as: type)
    }
}
