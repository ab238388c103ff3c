import CLibPQ
import Foundation
import Logging
import Synchronization

/// One connection to PostgreSQL, with its own thread.
///
/// Every libpq call blocks, so the actor runs on a `ConnectionThreadExecutor`: callers
/// `await` it from anywhere and the blocking stays off Swift's cooperative pool. Inside
/// the actor (a transaction body, say) calls are synchronous, which keeps a transaction
/// short and its statements in order.
public actor PostgresConnection {
    private let executor: ConnectionThreadExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private var handle: ConnectionHandle?
    private var preparedNames: Set<String> = []
    private let brokenFlag = Mutex(false)
    /// Set when a command left a transaction open, so a pool knows to reset the connection.
    private let transactionOpenFlag = Mutex(false)
    let logger: Logger
    /// Kept alive as long as the connection, whose notice callback points at it.
    private let noticeSink: NoticeSink

    /// Opens a connection from a libpq connection string (`host=... dbname=...`) or URL
    /// (`postgresql://...`). Missing settings come from the `PG*` environment variables and
    /// passwords from `~/.pgpass`, as libpq does for psql.
    public static func connect(
        _ connectionString: String, logger: Logger = Logger(label: "tidemark.postgres")
    ) async throws(PostgresError) -> PostgresConnection {
        try await connect(PostgresConnectionSettings(connectionString), logger: logger)
    }

    /// Opens a connection with settings whose overrides win over the connection string.
    public static func connect(
        _ settings: PostgresConnectionSettings, logger: Logger = Logger(label: "tidemark.postgres")
    ) async throws(PostgresError) -> PostgresConnection {
        let connection = PostgresConnection(logger: logger)
        do {
            try await connection.open(settings.connectionString, overrides: settings.overrides)
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    private init(logger: Logger) {
        self.executor = ConnectionThreadExecutor(name: "tidemark.postgres.connection")
        self.logger = logger
        self.noticeSink = NoticeSink(logger: logger)
    }

    deinit {
        handle?.finish()
        executor.shutdown()
    }

    /// True once the connection is known to be unusable; a pool discards such a connection.
    public nonisolated var isBroken: Bool { brokenFlag.withLock { $0 } }

    /// True when the last command left a transaction open (or failed); read without a hop.
    public nonisolated var needsReset: Bool { transactionOpenFlag.withLock { $0 } }

    /// The server process serving this connection, for `pg_terminate_backend` and logs.
    public var backendProcessID: Int32 {
        guard let pointer = handle?.pointer else { return 0 }
        return PQbackendPID(pointer)
    }

    /// Whether a transaction is open (or failed and waiting for ROLLBACK).
    public var isInTransaction: Bool {
        guard let pointer = handle?.pointer else { return false }
        let status = PQtransactionStatus(pointer)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// Closes the connection; later calls fail with `connectionLost`. The thread ends when
    /// the actor goes away (in `deinit`), since a call may still be queued for it.
    public func close() {
        handle?.finish()
        handle = nil
        brokenFlag.withLock { $0 = true }
    }

    private func open(_ connectionString: String, overrides: [String: String]) throws(PostgresError) {
        let sortedOverrides = overrides.sorted { $0.key < $1.key }
        let keywords = ["dbname", "client_encoding", "fallback_application_name"] + sortedOverrides.map(\.key)
        let values = [connectionString, "UTF8", "tidemark"] + sortedOverrides.map(\.value)
        let pointer: OpaquePointer? = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let pointer else {
            throw PostgresError(.connectionFailed, message: "libpq could not allocate a connection")
        }
        let handle = ConnectionHandle(pointer)
        guard PQstatus(pointer) == CONNECTION_OK else {
            var message = Self.redact(libpqMessage(PQerrorMessage(pointer)), secretsIn: connectionString)
            if let password = overrides["password"], !password.isEmpty {
                message = message.replacingOccurrences(of: password, with: "***")
            }
            handle.finish()
            throw PostgresError(
                .connectionFailed, message: message,
                hint: "check the connection string, that the server runs, and the PG* environment variables")
        }
        self.handle = handle
        noticeSink.install(on: pointer)
        _ = try execute("SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'iso_8601'; SET bytea_output = 'hex'")
    }

    /// Runs one statement with parameters and returns its rows.
    @discardableResult
    public func query(
        _ sql: String, _ parameters: [any PostgresEncodable] = []
    ) throws(PostgresError)
        -> PostgresResult
    {
        let label = statementLabel(sql)
        let pointer = try livePointer(label)
        let buffers = try ParameterBuffers(parameters, statement: label)
        let result = buffers.values.withUnsafeBufferPointer { values in
            PQexecParams(
                pointer, sql, buffers.count, buffers.types, values.baseAddress, buffers.lengths,
                buffers.formats, 0)
        }
        return try check(result, statement: label)
    }

    /// Runs a prepared statement, preparing it on first use on this connection.
    @discardableResult
    public func query(
        _ statement: PostgresStatement, _ parameters: [any PostgresEncodable] = []
    )
        throws(PostgresError) -> PostgresResult
    {
        let pointer = try livePointer(statement.name)
        if !preparedNames.contains(statement.name) {
            let prepared = PQprepare(pointer, statement.name, statement.sql, 0, nil)
            _ = try check(prepared, statement: statement.name)
            preparedNames.insert(statement.name)
        }
        let buffers = try ParameterBuffers(parameters, statement: statement.name)
        let result = buffers.values.withUnsafeBufferPointer { values in
            PQexecPrepared(
                pointer, statement.name, buffers.count, values.baseAddress, buffers.lengths, buffers.formats, 0)
        }
        return try check(result, statement: statement.name)
    }

    /// Runs SQL without parameters, possibly several statements (a migration file).
    /// Returns the last statement's result.
    @discardableResult
    public func execute(_ sql: String, label: String? = nil) throws(PostgresError) -> PostgresResult {
        let label = label ?? statementLabel(sql)
        let pointer = try livePointer(label)
        return try check(PQexec(pointer, sql), statement: label)
    }

    /// Runs `body` inside BEGIN/COMMIT; any error thrown by the body, or by COMMIT, rolls
    /// the transaction back and is rethrown. A COMMIT that the server turns into a ROLLBACK
    /// (the transaction had failed) is reported as an error, never as success.
    @discardableResult
    public func withTransaction<T: Sendable>(
        _ body: @Sendable (isolated PostgresConnection) throws -> T
    ) throws -> T {
        try execute("BEGIN")
        let value: T
        do {
            value = try body(self)
        } catch {
            rollbackQuietly()
            throw error
        }
        let commit = try execute("COMMIT")
        guard commit.commandTag == "COMMIT" else {
            throw PostgresError(
                .server, message: "the transaction had failed and was rolled back at COMMIT", statement: "COMMIT")
        }
        return value
    }

    private func rollbackQuietly() {
        guard let pointer = handle?.pointer, PQstatus(pointer) == CONNECTION_OK else { return }
        if let result = PQexec(pointer, "ROLLBACK") { PQclear(result) }
    }

    /// Ends any transaction left open so the connection can serve another caller;
    /// false when the connection cannot be reused.
    public func resetForReuse() -> Bool {
        guard let pointer = handle?.pointer, !isBroken, PQstatus(pointer) == CONNECTION_OK else { return false }
        if PQtransactionStatus(pointer) != PQTRANS_IDLE {
            guard let result = PQexec(pointer, "ROLLBACK") else { return false }
            let ok = PQresultStatus(result) == PGRES_COMMAND_OK
            PQclear(result)
            return ok && PQtransactionStatus(pointer) == PQTRANS_IDLE
        }
        return true
    }

    // MARK: - Errors

    func livePointer(_ statement: String) throws(PostgresError) -> OpaquePointer {
        guard let pointer = handle?.pointer, !isBroken else {
            throw PostgresError(.connectionLost, message: "the connection is closed", statement: statement)
        }
        return pointer
    }

    /// Turns a libpq result into a `PostgresResult` or the error it carries.
    func check(_ result: OpaquePointer?, statement: String) throws(PostgresError) -> PostgresResult {
        let pointer = handle?.pointer
        let open = pointer.map { PQtransactionStatus($0) != PQTRANS_IDLE } ?? false
        transactionOpenFlag.withLock { $0 = open }
        guard let result else {
            throw connectionError(statement: statement, fallback: "no result from the server")
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_COPY_IN, PGRES_EMPTY_QUERY:
            return PostgresResult(handle: result, statement: statement)
        default:
            defer { PQclear(result) }
            let connectionBad = pointer.map { PQstatus($0) == CONNECTION_BAD } ?? true
            let code = resultField(result, "C").map(PostgresError.Code.init(rawValue:))
            let message = resultField(result, "M") ?? libpqMessage(PQresultErrorMessage(result))
            let error = PostgresError(
                connectionBad ? .connectionLost : .server, code: code,
                message: message.isEmpty ? "the server reported an error" : message,
                detail: resultField(result, "D"), hint: resultField(result, "H"), statement: statement)
            if connectionBad { brokenFlag.withLock { $0 = true } }
            logger.debug(
                "statement failed",
                metadata: ["postgres.statement": "\(statement)", "postgres.sqlstate": "\(code?.rawValue ?? "-")"])
            throw error
        }
    }

    /// An error for a failure of the connection itself; the connection is not used again.
    func connectionError(statement: String, fallback: String) -> PostgresError {
        let message = handle?.pointer.map { libpqMessage(PQerrorMessage($0)) } ?? ""
        brokenFlag.withLock { $0 = true }
        return PostgresError(
            .connectionLost, message: message.isEmpty ? fallback : message, statement: statement)
    }

    private func resultField(_ result: OpaquePointer, _ code: Unicode.Scalar) -> String? {
        guard let value = PQresultErrorField(result, Int32(code.value)) else { return nil }
        return String(cString: value)
    }

    /// Removes the connection string's secrets from a libpq message. When libpq cannot
    /// parse the string, its message quotes the fragment it stumbled on, which may be part of
    /// a password, so the secrets are then found by hand: `password=` and `sslpassword=`
    /// values, and the password of a URL's `user:password@`.
    private static func redact(_ message: String, secretsIn connectionString: String) -> String {
        var secrets: [String] = []
        var error: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(connectionString, &error) {
            var option = options
            while let keyword = option.pointee.keyword {
                if String(cString: keyword).hasSuffix("password"), let value = option.pointee.val {
                    secrets.append(String(cString: value))
                }
                option += 1
            }
            PQconninfoFree(options)
        } else {
            secrets = looseSecrets(in: connectionString)
        }
        if let error { PQfreemem(error) }
        var redacted = message
        for secret in secrets where !secret.isEmpty {
            redacted = redacted.replacingOccurrences(of: secret, with: "***")
            // A fragment of a secret (libpq quotes where parsing stopped) is hidden too.
            for length in stride(from: secret.count - 1, through: 4, by: -1) {
                for fragment in [String(secret.prefix(length)), String(secret.suffix(length))]
                where redacted.contains(fragment) {
                    redacted = redacted.replacingOccurrences(of: fragment, with: "***")
                }
            }
        }
        return redacted
    }

    /// Secrets in a connection string libpq could not parse.
    private static func looseSecrets(in connectionString: String) -> [String] {
        var secrets: [String] = []
        for token in connectionString.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "&" || $0 == "?" }) {
            let parts = token.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased().hasSuffix("password") {
                secrets.append(String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "'")))
            }
        }
        if let scheme = connectionString.range(of: "://"),
            let at = connectionString[scheme.upperBound...].firstIndex(of: "@")
        {
            let userInfo = connectionString[scheme.upperBound..<at]
            if let colon = userInfo.firstIndex(of: ":") {
                let password = String(userInfo[userInfo.index(after: colon)...])
                secrets.append(password)
                if let decoded = password.removingPercentEncoding { secrets.append(decoded) }
            }
        }
        return secrets
    }
}

func libpqMessage(_ pointer: UnsafePointer<CChar>?) -> String {
    guard let pointer else { return "" }
    return String(cString: pointer).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Calls `body` with a NULL-terminated array of C strings that live for the call.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicates = strings.map { strdup($0) }
    defer { duplicates.forEach { free($0) } }
    var pointers: [UnsafePointer<CChar>?] = duplicates.map { UnsafePointer($0) }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
