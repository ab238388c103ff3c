/// Where a vCenter is and how to log in. The password is held in memory only, for re-logins,
/// and never printed: `description` leaves it out.
public struct VSphereEndpoint: Sendable, CustomStringConvertible {
    /// `https://host[:port]` (an `/sdk` suffix is accepted and dropped).
    public let url: String
    public let user: String
    let password: String
    /// The SHA-256 thumbprint of a certificate trusted without a CA, 64 upper-case hex digits.
    public let thumbprint: String?
    /// The catalog's name for this vCenter, so a message can give the exact command to run
    /// (`tidemark server update vc1 --thumbprint ...`); nil outside the catalog.
    public let name: String?

    public init(url: String, user: String, password: String, thumbprint: String? = nil, name: String? = nil) {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/sdk") { base.removeLast(4) }
        self.url = base
        self.user = user
        self.password = password
        self.thumbprint = thumbprint.map { $0.replacingOccurrences(of: ":", with: "").uppercased() }
        self.name = name
    }

    public var description: String {
        "\(url) as \(user)" + (thumbprint.map { " (pinned \($0))" } ?? "")
    }
}
