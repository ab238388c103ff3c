/// A vSphere managed object reference: the object's type and its id (`VirtualMachine`, `vm-42`).
public struct ManagedObjectReference: Sendable, Hashable, CustomStringConvertible {
    public let type: String
    public let value: String

    public init(type: String, value: String) {
        self.type = type
        self.value = value
    }

    /// Reads `<obj type="VirtualMachine">vm-42</obj>`; nil when the element carries no type.
    init?(_ element: XMLElement?) {
        guard let element, let type = element.attributes["type"] else { return nil }
        self.init(type: type, value: element.text)
    }

    /// The reference as a SOAP argument element named `name`.
    func xml(_ name: String) -> String {
        "<\(name) type=\"\(xmlEscaped(type))\">\(xmlEscaped(value))</\(name)>"
    }

    public var description: String { "\(type):\(value)" }
}
