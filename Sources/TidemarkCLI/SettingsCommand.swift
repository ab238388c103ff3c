import ArgumentParser
import Catalog
import CatalogStore
import CommandLineSupport
import Foundation

/// `tidemark settings two-person-approval on|off|show`: the policy that makes the API's job
/// and repository removals and retention cuts wait for a second administrator. Changed only
/// here, on the server's host (whoever holds the database): an API token, even an
/// administrator's, cannot turn it off. Each change is an event with its reason.
struct SettingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings", abstract: "Server-wide settings, each change recorded with who made it and why.",
        subcommands: [TwoPersonApprovalSetting.self])
}

struct TwoPersonApprovalSetting: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "two-person-approval",
        abstract:
            "Whether removing a job or a repository, or shortening a job's retention, through the API needs a second administrator (on by default).",
        discussion: "tidemark settings two-person-approval off --reason \"single-admin lab\"; 'show' prints the setting.")

    enum State: String, ExpressibleByArgument, CaseIterable {
        case on, off, show
    }

    @OptionGroup var options: CatalogOptions
    @Argument(help: "on, off or show.") var state: State
    @Option(help: "Why (recorded with the change; required to turn it off).") var reason: String?

    func validate() throws {
        if state == .off, (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("turning two-person approval off needs --reason: it is recorded in the audit trail")
        }
        if let reason, reason.count > 500 || reason.contains(where: { $0.isNewline }) {
            throw ValidationError("--reason is one line of at most 500 characters")
        }
    }

    func run() async throws {
        let state = self.state, reason = self.reason ?? ""
        let outcome = try await options.withCatalog(appending: state != .show) { catalog -> (changed: Bool, required: Bool) in
            let approvals = ApprovalStore(catalog: catalog)
            if state == .show { return (false, try await approvals.isRequired()) }
            let changed = try await approvals.setRequired(state == .on, reason: reason, metadata: options.metadata)
            return (changed, state == .on)
        }
        switch state {
        case .show: print("two-person approval: \(outcome.required ? "on" : "off")")
        case .on, .off:
            print(
                outcome.changed
                    ? "two-person approval turned \(state.rawValue)" : "two-person approval was \(state.rawValue) already: nothing recorded"
            )
        }
    }
}
