import HummingbirdBcrypt

/// Passwords for signing in to the API (the console's users): only a bcrypt hash (cost 12,
/// about a quarter of a second to check on this machine's kind) is kept, in the user's
/// `PasswordSet` event; the password itself is never stored, logged or put in an event.
public enum Password {
    public static let minimumLength = 12
    public static let maximumLength = 72  // bcrypt reads no further
    public static let cost: UInt8 = 12

    /// Refuses a password too short to resist guessing offline if the log leaked, or longer
    /// than bcrypt reads (the rest would be ignored silently).
    public static func check(_ password: String) throws(IdentityError) {
        guard password.utf8.count >= minimumLength else {
            throw IdentityError(.invalid, "a password has at least \(minimumLength) characters")
        }
        guard password.utf8.count <= maximumLength else {
            throw IdentityError(.invalid, "a password has at most \(maximumLength) bytes (bcrypt reads no further)")
        }
        guard !password.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            throw IdentityError(.invalid, "a password holds no control characters")
        }
    }

    /// Slow on purpose: call it off the cooperative pool.
    public static func hash(_ password: String) -> String { Bcrypt.hash(password, cost: cost) }

    /// Slow on purpose: call it off the cooperative pool.
    public static func verify(_ password: String, hash: String) -> Bool { Bcrypt.verify(password, hash: hash) }
}
