import CodedErrors
import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// A server's certificate and key: from files the administrator gives, or a self-signed
/// pair made on first start in a folder of its own (`tls/api.crt`, `tls/api.key` for
/// `tidemark server`, `service/tls/repository.*` for the repository service; the key mode
/// 600) and reused after, as vCenter does. Its SHA-256 thumbprint is what clients pin.
public struct TLSIdentity: Sendable {
    public let certificatePath: String
    public let keyPath: String
    /// SHA-256 of the certificate's DER, upper-case hex in pairs joined by `:`.
    public let thumbprint: String
    /// True when this start made the pair.
    public let generated: Bool

    /// The pair in `certificate`/`key`, or the one in `folder` named `name` (made there when
    /// absent, for this host's names, the loopback address and `addresses`).
    public static func load(
        certificate: String?, key: String?, folder: URL, name: String = "api", addresses: [[UInt8]] = []
    ) throws -> TLSIdentity {
        if let certificate, let key {
            return try TLSIdentity(certificatePath: certificate, keyPath: key, generated: false)
        }
        if certificate != nil || key != nil {
            throw TLSIdentityError("--tls-certificate and --tls-key go together: give both, or neither for a self-signed pair")
        }
        let certificatePath = folder.appendingPathComponent("\(name).crt").path
        let keyPath = folder.appendingPathComponent("\(name).key").path
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // One server at a time looks and makes: two making pairs at once could leave one's key
        // beside the other's certificate.
        let lock = open(folder.appendingPathComponent(".lock").path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw TLSIdentityError("could not open a lock file in \(folder.path): \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        flock(lock, LOCK_EX)
        if FileManager.default.fileExists(atPath: certificatePath) {
            return try TLSIdentity(certificatePath: certificatePath, keyPath: keyPath, generated: false)
        }
        try generate(certificatePath: certificatePath, keyPath: keyPath, folder: folder, addresses: addresses)
        return try TLSIdentity(certificatePath: certificatePath, keyPath: keyPath, generated: true)
    }

    init(certificatePath: String, keyPath: String, generated: Bool) throws {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.generated = generated
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(certificatePath)
            _ = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw TLSIdentityError(
                "could not read the TLS certificate \(certificatePath) and key \(keyPath) (PEM files): \(error)")
        }
        guard let leaf = certificates.first else { throw TLSIdentityError("\(certificatePath) holds no certificate") }
        let der = try leaf.toDERBytes()
        thumbprint = SHA256.hash(data: der).map { String(format: "%02X", $0) }.joined(separator: ":")
    }

    /// The server's TLS configuration: TLS 1.2 at least.
    public func configuration() throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    /// A P-256 key and a self-signed certificate for `localhost`, this host's name and the
    /// loopback addresses, valid 825 days (what browsers accept). Written beside each other by
    /// rename, the key first, so a crash leaves no certificate without its key; two servers
    /// starting at once both end with one pair.
    static func generate(certificatePath: String, keyPath: String, folder: URL, addresses: [[UInt8]]) throws {
        let key = P256.Signing.PrivateKey()
        let host = ProcessInfo.processInfo.hostName
        let name = try DistinguishedName {
            CommonName(host)
            OrganizationName("Tidemark")
        }
        let now = Date()
        var names: [GeneralName] = [.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))]
        if host != "localhost" && !host.isEmpty { names.append(.dnsName(host)) }
        for address in addresses where address != [127, 0, 0, 1] { names.append(.ipAddress(ASN1OctetString(contentBytes: address[...]))) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(825 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(key))
        let keyTemporary = keyPath + ".\(UUID().uuidString).tmp"
        let certificateTemporary = certificatePath + ".\(UUID().uuidString).tmp"
        guard
            FileManager.default.createFile(
                atPath: keyTemporary, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]),
            FileManager.default.createFile(
                atPath: certificateTemporary, contents: Data(try certificate.serializeAsPEM().pemString.utf8),
                attributes: [.posixPermissions: 0o644])
        else { throw TLSIdentityError("could not write a TLS key and certificate in \(folder.path)") }
        guard rename(keyTemporary, keyPath) == 0, rename(certificateTemporary, certificatePath) == 0 else {
            throw TLSIdentityError(
                "could not put the TLS key and certificate in place in \(folder.path): \(String(cString: strerror(errno)))")
        }
    }
}

/// Why a server's TLS identity could not be read or made, with what to do.
public struct TLSIdentityError: CodedError {
    public let message: String
    public var codeName: String { "tls identity" }
    public init(_ message: String) { self.message = message }
}
