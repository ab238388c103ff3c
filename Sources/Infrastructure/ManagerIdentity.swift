/// What a virtualization manager says it is, and the certificate it showed: what an
/// administrator checks before trusting a server with jobs. A lab has none.
public struct ManagerIdentity: Sendable, Equatable {
    /// "VMware vCenter Server 8.0.2 build-22617221".
    public let product: String
    /// "VirtualCenter, API 8.0.2.0".
    public let api: String
    /// The SHA-256 thumbprint of the certificate the connection saw; nil over plain HTTP.
    public let certificateThumbprint: String?

    public init(product: String, api: String, certificateThumbprint: String?) {
        self.product = product
        self.api = api
        self.certificateThumbprint = certificateThumbprint
    }
}
