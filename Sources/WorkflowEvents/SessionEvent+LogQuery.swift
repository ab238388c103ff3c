import EventStore

extension SessionEvent {
    /// A session event type as the event store's log queries name it.
    public static func logKind(_ kind: Kind) -> LogQuery.Kind {
        LogQuery.Kind(category: category, type: kind.rawValue)
    }
}
