/// Something its user must close when done, whatever happened: a connection, a pool, a store.
public protocol AsyncClosable: Sendable {
    func close() async
}

/// Runs `body` with `resource` and closes it before returning, after a throw too. The one
/// scoped form of cleanup: `defer { Task { await resource.close() } }` starts a task that a
/// command line may exit before it runs, and leaves the close unordered with what follows.
public func withClosing<Resource: AsyncClosable, T>(
    _ resource: Resource, isolation: isolated (any Actor)? = #isolation, _ body: (Resource) async throws -> T
) async throws -> T {
    let value: T
    do {
        value = try await body(resource)
    } catch {
        await resource.close()
        throw error
    }
    await resource.close()
    return value
}

extension PostgresConnection: AsyncClosable {}
extension PostgresPool: AsyncClosable {}
