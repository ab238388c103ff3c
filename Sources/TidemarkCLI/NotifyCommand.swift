import ArgumentParser
import Catalog
import CodedErrors
import CommandLineSupport
import Foundation
import Notifications

/// `tidemark notify add|remove|list`: who is told when sessions end, by e-mail or webhook.
/// A running `tidemark server` delivers; every attempt is an event (`reporting.notifications`).
struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Channels told when sessions end: e-mail (SMTP with STARTTLS) or a signed webhook.",
        subcommands: [NotifyAdd.self, NotifyRemove.self, NotifyList.self]
    )
}

struct NotifyAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a channel.",
        discussion:
            "E-mail: --email a@example.com[,b@...] --smtp smtp://mail.example.com:587 --from tidemark@example.com [--smtp-user U --smtp-password env:VAR|file:/path|credential:NAME]. Webhook: --webhook https://host/path --secret env:VAR|file:/path (the HMAC-SHA256 key of X-Tidemark-Signature)."
    )
    @OptionGroup var options: CatalogOptions
    @Argument(help: "The channel's name.") var name: String
    @Option(help: "Recipients, comma-separated.") var email: String?
    @Option(help: "The SMTP server: smtp://host:port (STARTTLS required) or smtps://host:port.") var smtp: String?
    @Option(help: "The sender address.") var from: String?
    @Option(name: .customLong("smtp-user"), help: "The SMTP user, when the server asks for AUTH.") var smtpUser: String?
    @Option(name: .customLong("smtp-password"), help: "Where the SMTP password is: env:VAR, file:/path or credential:NAME.")
    var smtpPassword: String?
    @Option(help: "The webhook's URL.") var webhook: String?
    @Option(help: "Where the webhook's signing secret is: env:VAR, file:/path or credential:NAME.") var secret: String?
    @Option(name: .customLong("ca-file"), help: "Certificates (PEM) to trust for the SMTP server or webhook, instead of the system's.")
    var caFile: String?
    @Option(help: "When: failure, warning, success, summary (comma-separated).") var on = "failure,warning"
    @Option(name: .customLong("summary-at"), help: "With --on summary: when the daily summary goes out (HH:MM; default 08:00).")
    var summaryAt: String?
    @Option(name: .customLong("time-zone"), help: "The time zone of --summary-at (default: this shell's).") var timeZone: String?
    @Option(help: "Only these jobs (comma-separated names); default: every job.") var jobs: String?

    func channel() throws -> NotificationChannel {
        let triggers = try on.split(separator: ",").map { text -> NotificationChannel.Trigger in
            let word = text.trimmingCharacters(in: .whitespaces)
            guard let trigger = NotificationChannel.Trigger(rawValue: word) else {
                throw ValidationError("--on: '\(word)' is not failure, warning, success or summary")
            }
            return trigger
        }
        let list = { (text: String?) in
            (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        var emailTarget: NotificationChannel.Email?
        var webhookTarget: NotificationChannel.Webhook?
        if let email {
            guard let smtp, let from else { throw ValidationError("--email needs --smtp and --from") }
            emailTarget = NotificationChannel.Email(
                smtpURL: smtp, from: from, to: list(email), user: smtpUser,
                password: try smtpPassword.map { try SecretReference(parsing: $0) }, caFile: caFile)
        }
        if let webhook {
            guard let secret else {
                throw ValidationError("--webhook needs --secret (env:VAR or file:/path): receivers check the signature")
            }
            webhookTarget = NotificationChannel.Webhook(url: webhook, secret: try SecretReference(parsing: secret), caFile: caFile)
        }
        let summary = triggers.contains(.summary)
        let channel = NotificationChannel(
            id: UUID().uuidString.lowercased(), name: name, on: triggers, jobs: list(jobs), email: emailTarget, webhook: webhookTarget,
            summaryAt: summary ? summaryAt ?? "08:00" : summaryAt, timeZone: summary ? timeZone ?? TimeZone.current.identifier : nil)
        try channel.validate()
        return channel
    }

    /// Every check before anything is opened: a bad channel is a usage error (64).
    func validate() throws {
        do { _ = try channel() } catch let error as ValidationError { throw error } catch let error as any CodedError {
            throw ValidationError(error.message)
        }
    }

    func run() async throws {
        let channel = try channel()
        try await options.withCatalog { catalog in
            try await NotificationChannels(events: catalog.events).add(channel, metadata: options.metadata)
        }
        print(
            "channel '\(name)' added (\(channel.kind), on \(channel.on.map(\.rawValue).joined(separator: ", "))\(NotifyList.summary(channel))); a running 'tidemark server' delivers"
        )
    }
}

struct NotifyRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a channel.")
    @OptionGroup var options: CatalogOptions
    @Argument(help: "The channel's name.") var name: String

    func run() async throws {
        try await options.withCatalog { catalog in
            try await NotificationChannels(events: catalog.events).remove(named: name, metadata: options.metadata)
        }
        print("channel '\(name)' removed")
    }
}

struct NotifyList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the channels.")
    @OptionGroup var options: CatalogOptions

    func run() async throws {
        let channels = try await options.withCatalog { catalog in try await NotificationChannels(events: catalog.events).load() }
        guard !channels.isEmpty else {
            print("no channels: add one with 'tidemark notify add NAME --email ... | --webhook ...'")
            return
        }
        let rows = channels.map { entry -> [String] in
            let channel = entry.channel
            let target = channel.email.map { "\($0.to.joined(separator: ", ")) via \($0.smtpURL)" } ?? channel.webhook?.url ?? ""
            return [
                channel.name, channel.kind, target, channel.on.map(\.rawValue).joined(separator: ",") + Self.summary(channel),
                channel.jobs.isEmpty ? "all" : channel.jobs.joined(separator: ", "),
            ]
        }
        print(TextTable.render([["NAME", "KIND", "TO", "ON", "JOBS"]] + rows), terminator: "")
    }

    /// " at 08:00 Europe/Berlin" for a channel sent the daily summary.
    static func summary(_ channel: NotificationChannel) -> String {
        guard channel.on.contains(.summary), let at = channel.summaryAt else { return "" }
        return " at \(at) \(channel.timeZone ?? "UTC")"
    }
}
