import Catalog
import EventStore
import Postgres

/// A read model folded from the log into tables of the `projection` schema.
///
/// `apply` receives the events of one batch, in log order, already filtered to the
/// projection's categories, and writes them with a few set-based statements (not one per
/// event) inside the runtime's transaction, which also moves the checkpoint. It must
/// depend on nothing but the events and the rows it wrote before, never on the clock, so
/// that a rebuild from position zero writes exactly the rows the live projection holds.
public protocol Projection: Sendable {
    /// The checkpoint's name.
    var name: String { get }
    /// The tables it owns, in the `projection` schema and their twins in `projection_shadow`.
    var tables: [String] { get }
    /// The stream categories it reads.
    var categories: [String] { get }
    func apply(_ events: [RecordedEvent], in schema: ProjectionSchema, on connection: isolated PostgresConnection) throws
}

/// Where a projection writes: the live tables, or the shadow twins a rebuild fills.
public enum ProjectionSchema: String, Sendable {
    case live = "projection"
    case shadow = "projection_shadow"

    public func table(_ name: String) -> String { "\(rawValue).\(name)" }
}

/// The projections Tidemark keeps, in the order they are caught up.
public enum StandardProjections {
    public static let all: [any Projection] = [
        CatalogProjection(), SessionsProjection(), StatisticsProjection(), HealthProjection(), RestoresProjection(),
        PublishesProjection(),
    ]

    public static func named(_ name: String) throws(ProjectionError) -> any Projection {
        guard let projection = all.first(where: { $0.name == name }) else {
            throw ProjectionError(
                .notFound,
                UnknownName.message("projection", name, known: all.map(\.name), listCommand: "tidemark projections status"))
        }
        return projection
    }
}
