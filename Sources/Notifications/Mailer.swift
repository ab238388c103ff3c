import CCurl
import Foundation

/// One message over SMTP with libcurl: STARTTLS required on `smtp://` (refused if the server
/// does not offer it, so no password or report crosses the network in clear), TLS from the
/// start on `smtps://`, AUTH when a user is given, the server's certificate checked against
/// the system's CAs or the channel's `ca_file`.
enum Mailer {
    static func send(
        _ email: NotificationChannel.Email, password: String?, subject: String, text: String, messageID: String, now: Date = Date()
    ) async -> Result<String, NotificationError> {
        let message = Self.message(email, subject: subject, text: text, messageID: messageID, now: now)
        return await CurlDelivery.offPool {
            let delivery = CurlDelivery(url: email.smtpURL, upload: Array(message.utf8), caFile: email.caFile)
            delivery.set(CURLOPT_MAIL_FROM, "<\(email.from)>")
            delivery.set(CURLOPT_MAIL_RCPT, list: email.to.map { "<\($0)>" })
            delivery.set(CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue))
            if let user = email.user, let password {
                delivery.set(CURLOPT_USERNAME, user)
                delivery.set(CURLOPT_PASSWORD, password)
            }
            delivery.readBodyFromUpload()
            delivery.set(CURLOPT_UPLOAD, 1)
            return delivery.perform().flatMap { code in
                (200..<300).contains(code)
                    ? .success("SMTP \(code)") : .failure(NotificationError(.deliveryFailed, "the SMTP server answered \(code)"))
            }
        }
    }

    /// The message, RFC 5322: CRLF line ends, a MIME-encoded subject, UTF-8 text.
    static func message(_ email: NotificationChannel.Email, subject: String, text: String, messageID: String, now: Date) -> String {
        let date = DateFormatter()
        date.locale = Locale(identifier: "en_US_POSIX")
        date.timeZone = TimeZone(identifier: "UTC")
        date.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        let encodedSubject =
            subject.allSatisfy { $0.isASCII && !$0.isNewline } ? subject : "=?UTF-8?B?\(Data(subject.utf8).base64EncodedString())?="
        let host = email.from.split(separator: "@").last.map(String.init) ?? "tidemark"
        let headers = [
            "From: Tidemark <\(email.from)>", "To: \(email.to.joined(separator: ", "))", "Subject: \(encodedSubject)",
            "Date: \(date.string(from: now))", "Message-ID: <\(messageID)@\(host)>", "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "X-Mailer: Tidemark",
        ]
        // A line of only "." would end the message early in SMTP: curl dot-stuffs, but lines are
        // normalised to CRLF here.
        let body = text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
        return headers.joined(separator: "\r\n") + "\r\n\r\n" + body + "\r\n"
    }
}
