import Catalog
import CodedErrors
import Foundation

/// Where and when to tell people about sessions: an e-mail address list over SMTP, or a
/// webhook. Defined with `tidemark notify add`, kept as events (`notify-<uuid>` streams).
public struct NotificationChannel: Codable, Sendable, Equatable {
    /// What a session's end can be, or the daily summary; a channel names the ones it wants.
    public enum Trigger: String, Codable, Sendable, CaseIterable {
        case failure, warning, success
        /// Once a day at `summaryAt`: the sessions and restores of the 24 hours before.
        case summary
    }

    public struct Email: Codable, Sendable, Equatable {
        /// `smtp://host:port` (STARTTLS is required) or `smtps://host:port` (TLS from the start).
        public var smtpURL: String
        public var from: String
        public var to: [String]
        public var user: String?
        public var password: SecretReference?
        /// Certificates to trust for the SMTP server (PEM); default: the system's.
        public var caFile: String?

        public init(smtpURL: String, from: String, to: [String], user: String?, password: SecretReference?, caFile: String?) {
            self.smtpURL = smtpURL
            self.from = from
            self.to = to
            self.user = user
            self.password = password
            self.caFile = caFile
        }

        enum CodingKeys: String, CodingKey {
            case from, to, user, password
            case smtpURL = "smtp_url"
            case caFile = "ca_file"
        }
    }

    public struct Webhook: Codable, Sendable, Equatable {
        public var url: String
        /// The key of the HMAC-SHA256 signature in `X-Tidemark-Signature`.
        public var secret: SecretReference
        public var caFile: String?

        public init(url: String, secret: SecretReference, caFile: String?) {
            self.url = url
            self.secret = secret
            self.caFile = caFile
        }

        enum CodingKeys: String, CodingKey {
            case url, secret
            case caFile = "ca_file"
        }
    }

    public var id: String
    public var name: String
    public var on: [Trigger]
    /// Job names; empty: every job.
    public var jobs: [String]
    public var email: Email?
    public var webhook: Webhook?
    /// With `summary`: when the daily summary goes out, `HH:MM` in `timeZone`.
    public var summaryAt: String?
    /// The time zone of `summaryAt` (an IANA name); the adding shell's by default.
    public var timeZone: String?

    enum CodingKeys: String, CodingKey {
        case id, name, on, jobs, email, webhook
        case summaryAt = "summary_at"
        case timeZone = "time_zone"
    }

    public init(
        id: String, name: String, on: [Trigger], jobs: [String], email: Email?, webhook: Webhook?, summaryAt: String? = nil,
        timeZone: String? = nil
    ) {
        self.id = id
        self.name = name
        self.on = on
        self.jobs = jobs
        self.email = email
        self.webhook = webhook
        self.summaryAt = summaryAt
        self.timeZone = timeZone
    }

    /// The newest summary time at or before `now` (today's, or yesterday's before it comes),
    /// when the channel wants summaries.
    public func summaryDue(atOrBefore now: Date) -> Date? {
        guard on.contains(.summary), let text = summaryAt, let time = try? TimeOfDay(parsing: text),
            let zone = TimeZone(identifier: timeZone ?? "UTC")
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        for daysBack in 0...2 {
            guard let day = calendar.date(byAdding: .day, value: -daysBack, to: now),
                let due = calendar.date(bySettingHour: time.hour, minute: time.minute, second: 0, of: day), due <= now
            else { continue }
            return due
        }
        return nil
    }

    public var kind: String { email != nil ? "email" : "webhook" }

    /// Whether a session of `job` that ended with `result` (success, warning, failed) is for
    /// this channel.
    public func wants(job: String, result: String) -> Bool {
        let triggers: [String: Trigger] = ["success": .success, "warning": .warning, "failed": .failure]
        guard let trigger = triggers[result], on.contains(trigger) else { return false }
        return jobs.isEmpty || jobs.contains { $0.lowercased() == job.lowercased() }
    }

    /// Every check `notify add` makes before anything is recorded.
    public func validate() throws(NotificationError) {
        do { try ObjectName.validate(name, kind: .job) } catch {
            throw NotificationError(
                .invalid,
                "'\(EscapedText.escaped(name))' is not a channel name: \(error.message.replacingOccurrences(of: "job", with: "channel"))")
        }
        guard !on.isEmpty else {
            throw NotificationError(.invalid, "--on names no trigger: give failure, warning, success and/or summary")
        }
        if on.contains(.summary) {
            do { _ = try TimeOfDay(parsing: summaryAt ?? "") } catch {
                throw NotificationError(.invalid, "--summary-at: \(error.message)")
            }
            guard let zone = timeZone, TimeZone(identifier: zone) != nil else {
                throw NotificationError(
                    .invalid, "--time-zone '\(timeZone ?? "")' is not a time zone: an IANA name such as Europe/Berlin or UTC")
            }
        } else if summaryAt != nil {
            throw NotificationError(.invalid, "--summary-at goes with --on summary")
        }
        switch (email, webhook) {
        case (let email?, nil):
            guard let url = URL(string: email.smtpURL), ["smtp", "smtps"].contains(url.scheme ?? ""), url.host?.isEmpty == false else {
                throw NotificationError(
                    .invalid, "'\(email.smtpURL)' is not an SMTP server: smtp://host:587 (STARTTLS) or smtps://host:465")
            }
            guard url.user == nil && url.password == nil else {
                throw NotificationError(
                    .invalid,
                    "the SMTP URL carries a user or password, which the log would keep: give --smtp-user and --smtp-password env:VAR instead"
                )
            }
            for address in [email.from] + email.to where !Self.isAddress(address) {
                throw NotificationError(.invalid, "'\(EscapedText.escaped(address))' is not an e-mail address (name@domain)")
            }
            guard !email.to.isEmpty else { throw NotificationError(.invalid, "--email names no recipient") }
            if (email.user == nil) != (email.password == nil) {
                throw NotificationError(.invalid, "--smtp-user and --smtp-password go together")
            }
        case (nil, let webhook?):
            guard let url = URL(string: webhook.url), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false else {
                throw NotificationError(.invalid, "'\(webhook.url)' is not a webhook URL: https://host/path")
            }
            guard url.user == nil && url.password == nil else {
                throw NotificationError(
                    .invalid, "the webhook URL carries a user or password, which the log would keep: sign with --secret instead")
            }
        default:
            throw NotificationError(.invalid, "a channel is either --email or --webhook, not both nor neither")
        }
    }

    /// One address, `local@domain`, with no spaces, angle brackets or line breaks (nothing a
    /// mail header could be split with).
    static func isAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && text.count <= 254
            && !text.unicodeScalars.contains { $0.value <= 0x20 || "<>,;\"\\()[]".unicodeScalars.contains($0) || $0.value == 0x7f }
    }
}

/// Why a notification command or delivery did not happen, with what to do.
public struct NotificationError: CodedError {
    public enum Code: String, Sendable {
        case invalid, notFound, duplicate, deliveryFailed
    }

    public let code: Code
    public let message: String
    public var codeName: String { code.rawValue }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
