import Foundation

/// Decisions made one after another, each on the state the previous ones leave: what a
/// command of several steps (a file of jobs, the demo's setup) appends at once.
public struct CatalogPlan: Sendable {
    public private(set) var state: CatalogState
    public private(set) var changes: [CatalogChange] = []

    public init(_ state: CatalogState) {
        self.state = state
    }

    /// Adds the object under a new id; with `ifAbsent`, does nothing when its kind already
    /// has an object of that name.
    public mutating func add<D: CatalogDefinition>(_ definition: D, ifAbsent: Bool = false) throws(CatalogError) {
        if ifAbsent, state.id(of: D.self, named: definition.name) != nil { return }
        include(try CatalogDecider.add(definition, id: UUID().uuidString.lowercased(), in: state))
    }

    /// Takes decided changes into the plan and its state.
    public mutating func include(_ step: [CatalogChange]) {
        state = state.applying(step)
        changes += step
    }
}
