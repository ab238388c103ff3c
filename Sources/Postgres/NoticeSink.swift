import CLibPQ
import Logging

/// Receives the server's notices (`NOTICE: database ... does not exist, skipping`) and logs
/// them at debug level, instead of libpq's default of printing them on standard error.
final class NoticeSink: Sendable {
    let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func install(on connection: OpaquePointer) {
        PQsetNoticeReceiver(connection, noticeReceiver, Unmanaged.passUnretained(self).toOpaque())
    }

    fileprivate func receive(_ result: OpaquePointer) {
        let severity = PQresultErrorField(result, Int32(UnicodeScalar("S").value)).map { String(cString: $0) } ?? "NOTICE"
        let message = PQresultErrorField(result, Int32(UnicodeScalar("M").value)).map { String(cString: $0) } ?? ""
        logger.debug("server notice", metadata: ["postgres.severity": "\(severity)", "postgres.message": "\(message)"])
    }
}

private let noticeReceiver: PQnoticeReceiver = { context, result in
    guard let context, let result else { return }
    Unmanaged<NoticeSink>.fromOpaque(context).takeUnretainedValue().receive(result)
}
