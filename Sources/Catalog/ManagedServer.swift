import Foundation

/// The virtualization manager Tidemark backs VMs up from: a vCenter, or a lab folder.
///
/// The password never enters the catalog: the log is kept forever and read by auditors.
/// Only a reference (`env:NAME` or `file:/path`) is stored, resolved when connecting.
public struct ManagedServer: CatalogDefinition {
    public static let kind = ObjectKind.server

    public enum Platform: String, Sendable, Codable, CaseIterable {
        case vcenter
        case lab
    }

    public var name: String
    public var platform: Platform
    /// vCenter: the SDK address, `https://vcenter.example.com` (the /sdk path is implied).
    public var url: String?
    public var user: String?
    public var passwordReference: SecretReference?
    /// vCenter: the SHA-256 thumbprint of a certificate trusted although no CA vouches for it.
    public var thumbprint: String?
    /// Lab: the folder holding the lab's VMs.
    public var folder: String?

    public init(
        name: String, platform: Platform, url: String? = nil, user: String? = nil, passwordReference: SecretReference? = nil,
        thumbprint: String? = nil, folder: String? = nil
    ) {
        self.name = name
        self.platform = platform
        self.url = url
        self.user = user
        self.passwordReference = passwordReference
        self.thumbprint = thumbprint.map(Self.normalizedThumbprint)
        self.folder = folder
    }

    /// The URL for messages, with whatever could be a secret blanked out: the user-info (up to
    /// the LAST `@` of the authority — `https://admin:PW@case2@host` hides all of
    /// `admin:PW@case2`), path parameters after `;`, the query and the fragment.
    static func withoutCredentials(_ url: String) -> String {
        guard let start = url.range(of: "//") else { return url.contains(";") || url.contains("?") ? "***" : url }
        let rest = url[start.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" || $0 == ";" } ?? rest.endIndex
        var authority = String(rest[..<authorityEnd])
        if let at = authority.lastIndex(of: "@") { authority = "***" + authority[at...] }
        var tail = String(rest[authorityEnd...])
        if let cut = tail.firstIndex(where: { $0 == ";" || $0 == "?" || $0 == "#" }) { tail = String(tail[..<cut]) + "***" }
        return String(url[..<start.upperBound]) + authority + tail
    }

    /// Upper-case hex without separators, so `ab:cd:...` and `ABCD...` compare equal.
    public static func normalizedThumbprint(_ text: String) -> String {
        text.replacingOccurrences(of: ":", with: "").uppercased()
    }

    public func validate(in catalog: CatalogState) throws(CatalogError) {
        let subject = "managed server '\(name)'"
        switch platform {
        case .vcenter:
            guard let url, let parsed = URLComponents(string: url), let scheme = parsed.scheme?.lowercased(),
                scheme == "https" || scheme == "http", let host = parsed.host, !host.isEmpty
            else {
                throw .invalid(
                    "\(subject) URL", "'\(Self.withoutCredentials(url ?? ""))' is not a vCenter address: give https://HOST[:PORT]")
            }
            // The URL is stored in the log for ever: it must not carry a secret, nor anything but
            // the address (no path parameters; a path of "/" or "/sdk" at most).
            guard parsed.user == nil, parsed.password == nil, parsed.query == nil, parsed.fragment == nil, !url.contains("@"),
                !url.contains(";"), ["", "/", "/sdk"].contains(parsed.path)
            else {
                throw .invalid(
                    "\(subject) URL",
                    "'\(Self.withoutCredentials(url))' carries a user, password, path, parameters, query or fragment: give only https://HOST[:PORT], the user with --user and the password with --credential, --password-env or --password-file"
                )
            }
            guard passwordReference != nil else {
                throw .invalid(
                    "\(subject) password",
                    "a vCenter needs its password's reference: add --credential NAME (from 'tidemark credentials add'), --password-env VAR or --password-file PATH"
                )
            }
            // A stored credential may carry the user; otherwise the catalog must.
            guard (user.map { !$0.isEmpty } ?? false) || passwordReference?.source == .credential else {
                throw .invalid("\(subject) user", "a vCenter needs a user name: add --user")
            }
            if let thumbprint {
                guard thumbprint.count == 64, thumbprint.allSatisfy(\.isHexDigit) else {
                    throw .invalid(
                        "\(subject) thumbprint",
                        "'\(thumbprint)' is not a SHA-256 thumbprint: give the 64 hex digits the certificate error printed")
                }
            }
            guard folder == nil else {
                throw .invalid("\(subject) folder", "a vCenter has no lab folder: remove --folder")
            }
        case .lab:
            guard let folder, folder.hasPrefix("/") else {
                throw .invalid("\(subject) folder", "a lab needs the absolute path of its folder: add --folder /path/to/lab")
            }
            guard url == nil, user == nil, passwordReference == nil, thumbprint == nil else {
                throw .invalid("\(subject)", "a lab has no URL, user, password or thumbprint: give only --folder")
            }
        }
    }

    public var references: [(kind: ObjectKind, id: UUIDString)] { [] }
}

/// Where a secret is kept: a stored credential, an environment variable or a file in the
/// secrets folder — never its value.
public struct SecretReference: Sendable, Hashable, TextRepresentable {
    public enum Source: String, Sendable, Codable {
        case environment = "env"
        case file
        /// A credential of `tidemark credentials add`, sealed in the service's credential store.
        case credential
    }

    public let source: Source
    public let name: String

    public init(source: Source, name: String) throws(CatalogError) {
        switch source {
        case .environment:
            let valid =
                !name.isEmpty
                && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }
                && !("0"..."9").contains(name.unicodeScalars.first!)
            guard valid else {
                throw CatalogError(
                    .invalidValue, "'\(name)' is not an environment variable name: use letters, digits and '_', such as VCENTER_PASSWORD")
            }
        case .file:
            guard name.hasPrefix("/") else {
                throw CatalogError(.invalidValue, "the password file '\(name)' is not an absolute path: give the full path")
            }
        case .credential:
            let valid =
                (1...64).contains(name.count) && name.first.map { $0.isASCII && ($0.isLetter || $0.isNumber) } == true
                && name.unicodeScalars.allSatisfy {
                    $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0))
                }
            guard valid else {
                throw CatalogError(
                    .invalidValue,
                    "'\(name)' is not a credential name: 1–64 letters, digits, '.', '_' or '-' (see 'tidemark credentials list')")
            }
        }
        self.source = source
        self.name = name
    }

    /// Reads `env:NAME` or `file:/path`.
    public init(parsing text: String) throws(CatalogError) {
        guard let colon = text.firstIndex(of: ":"), let source = Source(rawValue: String(text[..<colon])) else {
            throw CatalogError(
                .invalidValue, "a password reference is 'credential:NAME', 'env:VARIABLE' or 'file:/path', never the password itself")
        }
        try self.init(source: source, name: String(text[text.index(after: colon)...]))
    }

    public var description: String { "\(source.rawValue):\(name)" }

}
