import WorkflowEvents

/// What `tidemark publish` asks for: a VM's restore point (one disk, or all) served over NBD.
public struct PublishOrder: Sendable {
    public var vm: String
    public var point: RestorePointChoice
    /// `disk-2000` or `2000`; nil: every disk of the point.
    public var disk: String?
    /// `HOST:PORT` (port 0: any free one) or a Unix socket's absolute path.
    public var listen: String
    public var reason: String?
    /// Writes go to a copy-on-write overlay in `overlayFolder` (a folder per publish is made in
    /// it), never to the repository; kept at the stop with `keepOverlay`.
    public var writable: Bool
    public var overlayFolder: String?
    public var keepOverlay: Bool

    public init(
        vm: String, point: RestorePointChoice = .latest, disk: String? = nil, listen: String, reason: String? = nil, writable: Bool = false,
        overlayFolder: String? = nil, keepOverlay: Bool = false
    ) {
        self.writable = writable
        self.overlayFolder = overlayFolder
        self.keepOverlay = keepOverlay
        self.vm = vm
        self.point = point
        self.disk = disk
        self.listen = listen
        self.reason = reason
    }
}

/// A publish not stopped yet, as `tidemark publish list` shows it.
public struct PublishSummary: Sendable {
    public let publish: String
    public let requested: PublishEvent.Requested
    public let address: String?
    /// The host that served it last.
    public let host: String?
    public let actor: String?
    /// A process serves it now (its claim is live); false: the process that served it ended
    /// without recording the stop (killed), and `publish stop` records it.
    public let serving: Bool
}
