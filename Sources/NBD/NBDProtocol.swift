/// The numbers of the NBD protocol (the "fixed newstyle" negotiation and the simple reply
/// transmission phase) as `doc/proto.md` of the NBD project defines them.
enum NBDProtocol {
    static let initMagic: UInt64 = 0x4e42_444d_4147_4943  // "NBDMAGIC"
    static let optionMagic: UInt64 = 0x4948_4156_454f_5054  // "IHAVEOPT"
    static let replyMagic: UInt64 = 0x3_e889_0455_65a9
    static let requestMagic: UInt32 = 0x2560_9513
    static let simpleReplyMagic: UInt32 = 0x6744_6698

    /// Handshake flags the server sends.
    static let flagFixedNewstyle: UInt16 = 1 << 0
    static let flagNoZeroes: UInt16 = 1 << 1
    /// Client flags.
    static let clientFixedNewstyle: UInt32 = 1 << 0
    static let clientNoZeroes: UInt32 = 1 << 1

    enum Option: UInt32 {
        case exportName = 1
        case abort = 2
        case list = 3
        case startTLS = 5
        case info = 6
        case go = 7
        case structuredReply = 8
    }

    enum Reply: UInt32 {
        case ack = 1
        case server = 2
        case info = 3
        case errorUnsupported = 0x8000_0001
        case errorPolicy = 0x8000_0002
        case errorInvalid = 0x8000_0003
        case errorUnknown = 0x8000_0006
    }

    enum Info: UInt16 {
        case export = 0
        case name = 1
        case description = 2
        case blockSize = 3
    }

    /// Transmission flags of an export.
    static let transmissionHasFlags: UInt16 = 1 << 0
    static let transmissionReadOnly: UInt16 = 1 << 1
    static let transmissionSendFlush: UInt16 = 1 << 2
    static let transmissionCanMultiConnection: UInt16 = 1 << 8

    enum Command: UInt16 {
        case read = 0
        case write = 1
        case disconnect = 2
        case flush = 3
        case trim = 4
        case cache = 5
        case writeZeroes = 6
        case blockStatus = 7
    }

    /// Errors of the transmission phase (errno values, as the protocol fixes them).
    enum Errno: UInt32 {
        case permission = 1
        case io = 5
        case noMemory = 12
        case invalid = 22
        case noSpace = 28
        case overflow = 75
        case notSupported = 95
        case shutdown = 108
    }

    /// The largest request a client may send (32 MiB, the common limit), advertised as the
    /// maximum block size.
    static let maximumRequest = 32 << 20
}
