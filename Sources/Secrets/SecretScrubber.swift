import Foundation

/// Takes known secrets out of text before it is logged or recorded. A vCenter's fault may
/// echo the password it refused (a Login fault did, and it became a session's reason in the
/// permanent log): whatever a server sends back, the secret is replaced by `***` in every
/// form it could appear in — as typed, JSON-escaped, percent-encoded and XML-escaped.
public struct SecretScrubber: Sendable {
    private var forms: [String] = []

    public init(_ secrets: [String] = []) {
        for secret in secrets { add(secret) }
    }

    /// Adds a secret (an empty one scrubs nothing).
    public mutating func add(_ secret: String) {
        guard !secret.isEmpty else { return }
        var variants = [secret]
        if let data = try? JSONEncoder().encode(secret) {
            variants.append(String(decoding: data, as: UTF8.self).dropFirst().dropLast().description)
        }
        if let encoded = secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics) { variants.append(encoded) }
        variants.append(
            secret.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
                .replacingOccurrences(of: "'", with: "&apos;"))
        for variant in variants where !variant.isEmpty && !forms.contains(variant) { forms.append(variant) }
        // Longest first, so a form containing another is replaced whole.
        forms.sort { $0.count > $1.count }
    }

    public var isEmpty: Bool { forms.isEmpty }

    /// The text with every form of every secret replaced.
    public func scrub(_ text: String) -> String {
        var result = text
        for form in forms where result.contains(form) { result = result.replacingOccurrences(of: form, with: "***") }
        return result
    }

    /// Whether the text carries a secret in any form.
    public func reveals(_ text: String) -> Bool {
        forms.contains { text.contains($0) }
    }
}
