import ArgumentParser
import CommandLineSupport
import EventStore
import Foundation
import JobManager
import Logging
import Postgres
import ServiceLifecycle
import WorkflowEvents

/// `tidemark publish`: instant access to a restore point, its disks served over NBD.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Serve a restore point's disks over NBD (instant access), list publishes, stop one.",
        subcommands: [PublishServeCommand.self, PublishListCommand.self, PublishStopCommand.self],
        defaultSubcommand: PublishServeCommand.self)
}

struct PublishServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract:
            "Serve a VM's restore point over NBD until Ctrl-C, SIGTERM or 'tidemark publish stop' (exports disk-<key>; read-only unless --writable)."
    )
    @Option(help: "The VM (its name or id).") var vm: String
    @Option(help: "Only this disk (2000 or disk-2000; default: every disk of the point).") var disk: String?
    @Option(help: "Listen on HOST:PORT (port 0: any free one).") var listen: String?
    @Option(help: "Listen on a Unix socket at this absolute path instead.") var socket: String?
    @Flag(help: "Accept writes, kept in a copy-on-write overlay (never in the repository), discarded at the stop.") var writable = false
    @Option(help: "Where writable publishes keep their overlays (default: <data folder>/publish-overlays).") var overlayFolder: String?
    @Flag(help: "Keep the overlay at the stop (for a later migrate).") var keepOverlay = false
    @OptionGroup var pointOptions: RestorePointOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if listen != nil && socket != nil { throw ValidationError("give --listen or --socket, not both") }
        if let socket, !socket.hasPrefix("/") { throw ValidationError("--socket '\(socket)' is not an absolute path") }
        if !writable && (overlayFolder != nil || keepOverlay) {
            throw ValidationError("--overlay-folder and --keep-overlay go with --writable")
        }
    }

    func run() async throws {
        let logger = try global.makeLogger()
        let database = try CatalogDatabase(options: global, logger: logger)
        let store = try await database.openEventStore(maximumConnections: 4)
        let order = PublishOrder(
            vm: vm, point: pointOptions.choice, disk: disk, listen: socket ?? listen ?? "127.0.0.1:10809", reason: pointOptions.reason,
            writable: writable,
            overlayFolder: overlayFolder ?? database.dataDirectory.appendingPathComponent("publish-overlays").path,
            keepOverlay: keepOverlay)
        let service = PublishService(
            manager: PublishManager(store: store, settings: try global.jobManagerSettings(), logger: logger), order: order,
            metadata: pointOptions.metadata)
        // The publish ends by itself at a recorded stop: that ends the group as success.
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)], logger: logger)
        // A hang-up (the terminal closed) ends it too, recorded: not left to be served again.
        configuration.gracefulShutdownSignals = [.sigterm, .sigint, .sighup]
        let group = ServiceGroup(configuration: configuration)
        do {
            try await group.run()
        } catch {
            await ProjectionCatchUp.afterAppending(store, logger: logger)
            await store.pool.close()
            throw error
        }
        await ProjectionCatchUp.afterAppending(store, logger: logger)
        await store.pool.close()
    }
}

/// One publish as a service: Ctrl-C or SIGTERM ends it, recorded as interrupted.
struct PublishService: Service {
    let manager: PublishManager
    let order: PublishOrder
    let metadata: EventMetadata

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            let stopped = try await manager.publish(order, metadata: metadata) { publish, address in
                let url =
                    address.hasPrefix("/") ? "nbd+unix:///EXPORT?socket=\(address)" : "nbd://\(address)/EXPORT"
                print(
                    "publish \(publish) serving \(order.vm) on \(address) (\(url), exports disk-<key>); until Ctrl-C or 'tidemark publish stop \(publish.prefix(8))'"
                )
                fflush(nil)
            }
            print(
                "publish stopped (\(stopped.reason)): \(stopped.clients) client(s), \(stopped.reads) reads, \(String(format: "%.1f", Double(stopped.bytesRead) / 1e6)) MB served"
            )
        }
    }
}

struct PublishListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The publishes not stopped yet.")
    @Flag(help: "A JSON array, one object per publish.") var json = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let logger = try global.makeLogger()
        let database = try CatalogDatabase(options: global, logger: logger)
        let store = try await database.openEventStore(maximumConnections: 2)
        let publishes = try await withClosing(store) { store in
            try await PublishManager(store: store, settings: try global.jobManagerSettings(), logger: logger).unstopped()
        }
        if json {
            let objects: [[String: Any]] = publishes.map { publish in
                [
                    "publish_id": publish.publish, "vm_name": publish.requested.vmName,
                    "restore_point_id": publish.requested.restorePointId,
                    "disks": publish.requested.disks.map(\.disk), "address": publish.address ?? publish.requested.listen,
                    "requested_by": publish.actor ?? NSNull(), "serving": publish.serving, "writable": publish.requested.writable,
                ]
            }
            print(String(decoding: try JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        guard !publishes.isEmpty else {
            print("no publish is being served")
            return
        }
        for publish in publishes {
            let disks = publish.requested.disks.map(\.disk).joined(separator: ", ")
            print(
                "\(publish.publish.prefix(8))  \(publish.requested.vmName) point \(publish.requested.restorePointId) \(disks) on \(publish.address ?? publish.requested.listen)  by \(publish.actor ?? "?")  \(publish.serving ? "serving" : "not served (its process ended): 'tidemark publish stop' records its end")"
            )
        }
    }
}

struct PublishStopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop a publish (its id or the start of it).")
    @Argument(help: "The publish's id, or its first characters.") var id: String
    @Option(help: "Why, recorded with the stop.") var reason: String?
    @Option(help: ArgumentHelp("Who asks, recorded beside the OS user (default: cli:<OS user>).", valueName: "name"))
    var actor: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let logger = try global.makeLogger()
        let database = try CatalogDatabase(options: global, logger: logger)
        let store = try await database.openEventStore(maximumConnections: 2)
        let account = "cli:\(ProcessInfo.processInfo.userName)"
        let metadata = EventMetadata(actor: actor.map { "\($0) (\(account))" } ?? account, host: ProcessInfo.processInfo.hostName)
        let (publish, stopped) = try await withClosing(store) { store in
            let result = try await PublishManager(store: store, settings: try global.jobManagerSettings(), logger: logger).stop(
                id, metadata: metadata, reason: reason)
            await ProjectionCatchUp.afterAppending(store, logger: logger)
            return result
        }
        if let stopped {
            print("publish \(publish) stopped: \(stopped.reason); \(stopped.clients) client(s), \(stopped.bytesRead) bytes served")
        } else {
            print("publish \(publish) was asked to stop; its process has not recorded the end yet")
        }
    }
}
