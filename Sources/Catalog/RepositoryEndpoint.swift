import Foundation

/// A repository service on another host (`tidemark repository serve`), as a repository of the
/// catalog points to it: its address, the SHA-256 thumbprint of the certificate it presents
/// (pinned, as for a vCenter), and where this host keeps the token the service issued. The
/// token itself never enters the catalog: the log is kept for ever and read by auditors.
public struct RepositoryEndpoint: Codable, Sendable, Hashable {
    /// `https://HOST[:PORT]`, nothing else.
    public var url: String
    /// 64 hex digits, upper case.
    public var thumbprint: String
    /// A file in the secrets folder holding the token.
    public var tokenReference: SecretReference?

    public init(url: String, thumbprint: String, tokenReference: SecretReference?) {
        self.url = url
        self.thumbprint = Self.normalized(thumbprint)
        self.tokenReference = tokenReference
    }

    /// `AB:CD:...` as the service prints it, or 64 hex digits in any case → 64 upper-case hex digits.
    public static func normalized(_ thumbprint: String) -> String {
        thumbprint.replacingOccurrences(of: ":", with: "").uppercased()
    }

    func validate(subject: String) throws(CatalogError) {
        guard let parsed = URLComponents(string: url), parsed.scheme?.lowercased() == "https", let host = parsed.host, !host.isEmpty,
            parsed.user == nil, parsed.password == nil, parsed.query == nil, parsed.fragment == nil, ["", "/"].contains(parsed.path),
            !url.contains("@")
        else {
            throw .invalid(
                "\(subject) URL",
                "'\(url.prefix(200))' is not a repository service's address: give https://HOST[:PORT] as 'tidemark repository serve' printed it"
            )
        }
        guard thumbprint.utf8.count == 64, thumbprint.allSatisfy(\.isHexDigit) else {
            throw .invalid(
                "\(subject) thumbprint",
                "'\(thumbprint.prefix(100))' is not a SHA-256 thumbprint: give the one 'tidemark repository serve' printed (64 hex digits, pairs may be joined by ':')"
            )
        }
        guard tokenReference?.source == .file else {
            throw .invalid("\(subject) token", "a repository service's token is read from a file: give --token-file PATH")
        }
    }
}
