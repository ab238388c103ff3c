/// What a user may do, as Veeam's and Proxmox Backup Server's roles divide it. A role is a
/// fixed set of ``Permission``s: every API route names the one permission it needs, so a
/// role's reach is read here in one place.
public enum Role: String, Codable, Sendable, CaseIterable {
    /// Everything, including users, tokens and the catalog's definitions.
    case administrator
    /// Runs and stops jobs and reads what they did; changes no definition.
    case `operator`
    /// Restores and publishes restore points, and reads the restore points and sessions.
    case restoreOperator = "restore-operator"
    /// Reads everything, the audit trail included; changes nothing.
    case auditor
    /// Reads jobs and sessions.
    case viewer

    public var permissions: Set<Permission> {
        switch self {
        case .administrator: Set(Permission.allCases)
        case .operator: [.readCatalog, .readSessions, .runJobs]
        case .restoreOperator: [.readCatalog, .readSessions, .restore]
        case .auditor: [.readCatalog, .readSessions, .readAudit, .readUsers]
        case .viewer: [.readCatalog, .readSessions]
        }
    }

    public func allows(_ permission: Permission) -> Bool { permissions.contains(permission) }

    /// The role named `text`, or the error that lists the roles there are.
    public static func named(_ text: String) throws(IdentityError) -> Role {
        guard let role = Role(rawValue: text.lowercased()) else {
            throw IdentityError(
                .invalid,
                "'\(text)' is not a role: one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return role
    }
}

/// One thing a route does. Names are what a refusal (403) says is missing.
public enum Permission: String, Codable, Sendable, CaseIterable {
    /// Jobs, servers, repositories, proxies, throttling rules, restore points.
    case readCatalog = "catalog:read"
    /// Add, change and remove definitions.
    case editCatalog = "catalog:write"
    /// Sessions, their events and statistics.
    case readSessions = "sessions:read"
    /// Start and stop jobs.
    case runJobs = "jobs:run"
    /// Restores and publishes.
    case restore = "restores:run"
    /// The audit trail: catalog changes, sign-ins, who holds which role.
    case readAudit = "audit:read"
    /// Users and tokens, without their secrets.
    case readUsers = "users:read"
    /// Add and remove users, change roles, issue and revoke others' tokens.
    case manageUsers = "users:write"
    /// Approve or deny another administrator's request under two-person approval.
    case decideApprovals = "approvals:decide"
}
