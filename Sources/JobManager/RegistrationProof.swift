import Foundation
import Secrets

/// What a proxy process signs with its host's identity key when it registers, and the Job
/// Manager's check of it against the key enrolled in the catalog.
///
/// The statement binds the process's instance id (unique: a copied registration cannot be
/// registered again), its proxy, and the X25519 key logins are sealed to: so a login sealed
/// to a verified process opens only on the host that holds the enrolled key.
public enum RegistrationProof {
    public static func statement(instance: String, proxyID: String, agreementKey: [UInt8]) -> Data {
        Data(
            "tidemark proxy registration v1\n\(instance.lowercased())\n\(proxyID.lowercased())\n\(Data(agreementKey).base64EncodedString())"
                .utf8)
    }

    public static func sign(_ identity: ProxyIdentity, instance: String, proxyID: String, agreementKey: [UInt8]) -> [UInt8] {
        identity.sign(statement(instance: instance, proxyID: proxyID, agreementKey: agreementKey))
    }

    /// Why a process is not verified, or nil when it is: the proxy has an enrolled key, the
    /// process registered that key, and its signature holds.
    public static func refusal(of process: ProxyProcess, enrolledKey: String?) -> String? {
        // Only fingerprints: what a registration claims (its names) is not repeated into events.
        guard let enrolledKey, let enrolled = ProxyIdentity.publicKey(from: enrolledKey) else {
            return "no host is enrolled for this proxy ('tidemark proxy enrol')"
        }
        guard let identity = process.identityKey, identity == enrolled else {
            let shown = process.identityKey.map { ProxyIdentity.fingerprint(of: $0) } ?? "none"
            return "its key \(shown) is not the enrolled one (\(ProxyIdentity.fingerprint(of: enrolled)))"
        }
        guard let signature = process.signature,
            ProxyIdentity.verify(
                signature, of: statement(instance: process.instanceID, proxyID: process.proxyID, agreementKey: process.publicKey),
                by: enrolled)
        else {
            return "its registration is not signed by the enrolled key"
        }
        return nil
    }
}
