import Hummingbird
import Identity
import Logging
import NIOCore

/// What a request carries through the routes: the authenticated user (set by
/// ``BearerAuthentication``) and the client's address, which every event appended for the
/// request records beside the user.
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The user the request's token belongs to; nil before authentication and on open routes.
    public var user: IdentityState.User?
    public var tokenPrefix: String?
    public let clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// Bodies larger than this are refused with 413 before they are read whole.
    public var maxUploadSize: Int { 1 << 20 }
}
