import EventStore
import Foundation

/// Small events for tests.
func event(_ type: String = "Tested", _ number: Int = 0, id: UUID = UUID()) throws -> NewEvent {
    try NewEvent(id: id, type: type, jsonData: #"{"n": \#(number)}"#, metadata: EventMetadata(actor: "test"))
}

func events(_ count: Int, type: String = "Tested") throws -> [NewEvent] {
    try (0..<count).map { try event(type, $0) }
}

/// Stream names as literals, in tests only: in the product every name goes through the
/// throwing initializer, since `StreamName("...")` with a literal would otherwise bypass it.
extension StreamName: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) {
        try! self.init(value)
    }
}
