import Catalog
import CatalogStore
import EventStore
import Foundation
import Infrastructure
import JobManager
import Postgres
import TestSupport
import Testing
import WorkflowEvents

/// Proxies as processes (`tidemark proxy run`) on this machine: tasks assigned to them, moved
/// when one dies or freezes, handed back when one stops, and never given to one that cannot
/// reach the disk.
@Suite("Proxy processes", .serialized, .tags(.crash))
struct ProxyProcessTests {
    /// The most tasks any proxy ran at once, from the session's events (assigned → finished).
    static func peakLoad(_ events: [(type: String, data: [String: Any])]) -> [String: Int] {
        var holder: [String: String] = [:], load: [String: Int] = [:], peak: [String: Int] = [:]
        for event in events {
            guard let task = event.data["task_id"] as? String else { continue }
            switch event.type {
            case "TaskAssigned":
                let proxy = event.data["proxy_name"] as? String ?? "?"
                holder[task] = proxy
                load[proxy, default: 0] += 1
                peak[proxy] = max(peak[proxy] ?? 0, load[proxy]!)
            case "TaskReassigned", "TaskFinished":
                if let proxy = holder.removeValue(forKey: task) { load[proxy, default: 0] -= 1 }
            default:
                break
            }
        }
        return peak
    }

    @Test(
        "a job of 8 VMs is spread over two proxy processes within their task limits, sharing the session's throttle; every disk restores byte-identical"
    )
    func spreadOverProxies() async throws {
        // Slow enough (each 4 MiB disk takes 2 s alone) that tasks overlap even on a loaded machine.
        let rate: Int64 = 2 << 20
        let world = try await ProxyWorld.make(vms: 8, diskSize: 4 << 20, throttle: rate)
        defer { world.environment.remove() }
        let first = try await world.startProxy("proxy-1")
        let second = try await world.startProxy("proxy-2")
        let manager = world.manager()
        let session = try await manager.begin(job: world.environment.jobName, trigger: "manual")
        // The shares the Job Manager gives the tasks in flight, sampled while they run.
        let database = world.environment.database
        let sampling = Task { () -> (most: Int64, divided: Bool, seen: String) in
            var most: Int64 = 0, divided = false, seen = ""
            while !Task.isCancelled {
                if let shares = try? await database.administratorQuery(
                    """
                    WITH open AS (
                        SELECT a.task_id, a.state, coalesce(t.bytes_per_second, (a.assignment ->> 'throttle_bytes_per_second')::bigint) AS share
                          FROM tidemark.proxy_assignments a
                          LEFT JOIN tidemark.throttle_shares t ON t.session_id = a.session_id AND t.task_id = a.task_id
                         WHERE a.session_id = $1 AND a.state IN ('assigned', 'running'))
                    SELECT count(*), coalesce(sum(share), 0)::bigint, coalesce(min(share), 0)::bigint,
                           coalesce(string_agg(task_id || ':' || state || ':' || share, ' '), '') FROM open
                    """, [session])
                {
                    let open = (try? shares.decode(0, 0, as: Int64.self)) ?? 0
                    let sum = (try? shares.decode(0, 1, as: Int64.self)) ?? 0
                    if sum > most { (most, seen) = (sum, (try? shares.decode(0, 3, as: String.self)) ?? "") }
                    if open >= 2, let least = try? shares.decode(0, 2, as: Int64.self), least <= rate / open { divided = true }
                }
                try? await Task.sleep(for: .milliseconds(30))
            }
            return (most, divided, seen)
        }
        let report = try await manager.run(session: session)
        sampling.cancel()
        let shares = await sampling.value
        #expect(report.finished.result == .success, "\(report.finished)")
        // Two processes at once stay under the rule together: each task has its share.
        #expect(shares.most > 0 && shares.most <= rate, "the open tasks' shares added up to \(shares.most) B/s at most: \(shares.seen)")
        #expect(shares.divided, "tasks running at once each had a share of the rate")
        #expect(first.output.contains("session throttle changed") || second.output.contains("session throttle changed"))
        let events = try await world.checkDone(session, tasks: 8)
        let assigned = events.filter { $0.type == "TaskAssigned" }
        #expect(assigned.count == 8, "every task went to a process")
        #expect(Set(assigned.compactMap { $0.data["proxy_name"] as? String }) == ["proxy-1", "proxy-2"])
        let peak = Self.peakLoad(events)
        #expect((peak["proxy-1"] ?? 0) <= 2 && (peak["proxy-2"] ?? 0) <= 1, "peak load \(peak)")
        // The processes did the work (their logs), and the tasks table knows where.
        // Each process logs a task's end after reporting it: the session can finish first.
        #expect(try await first.waitFor("task finished", seconds: 30))
        #expect(try await second.waitFor("task finished", seconds: 30))
        let hosts = try await world.environment.database.administratorQuery(
            "SELECT count(*), (SELECT count(*) FROM tidemark.throttle_shares WHERE session_id = $1) FROM tidemark.proxy_assignments WHERE session_id = $1",
            [session])
        #expect(try hosts.decode(0, 0, as: Int64.self) == 0, "assignments are closed once recorded")
        #expect(try hosts.decode(0, 1, as: Int64.self) == 0, "the session's throttle shares end with it")
    }

    @Test("a proxy killed mid-transfer: its tasks resume on the other from their checkpoints; no transfer finishes twice")
    func killedProxy() async throws {
        let world = try await ProxyWorld.make(vms: 4, diskSize: 12 << 20, throttle: 2 << 20)
        defer { world.environment.remove() }
        let doomed = try await world.startProxy("proxy-1")
        let survivor = try await world.startProxy("proxy-2")
        defer { withExtendedLifetime(survivor) {} }
        let manager = world.manager()
        let session = try await manager.begin(job: world.environment.jobName, trigger: "manual")
        let run = Task { try await manager.run(session: session) }
        // Killed once a task it holds has checkpointed.
        var killed = false
        for _ in 0..<600 where !killed {
            let events = try await world.events(of: session)
            let held = Set(
                events.filter { $0.type == "TaskAssigned" && $0.data["proxy_name"] as? String == "proxy-1" }.compactMap {
                    $0.data["task_id"] as? String
                })
            if events.contains(where: {
                $0.type == "TransferCheckpointed" && held.contains($0.data["task_id"] as? String ?? "")
                    && (($0.data["offset"] as? NSNumber)?.int64Value ?? 0) > 0
            }) {
                doomed.signal(SIGKILL)
                killed = true
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(killed)
        let report = try await run.value
        #expect(report.finished.result == .success, "\(report.finished)")
        let events = try await world.checkDone(session, tasks: 4)
        let moved = events.filter { $0.type == "TaskReassigned" }
        #expect(!moved.isEmpty)
        #expect(moved.allSatisfy { ($0.data["reason"] as? String ?? "").contains("stopped heartbeating") })
        // Each moved task went on from its last checkpoint, on proxy-2.
        var resumedSomewhere = false
        for task in Set(moved.compactMap { $0.data["task_id"] as? String }) {
            let movedAt = events.firstIndex { $0.type == "TaskReassigned" && $0.data["task_id"] as? String == task } ?? 0
            let saved =
                events[..<movedAt].filter { $0.type == "TransferCheckpointed" && $0.data["task_id"] as? String == task }
                .compactMap { ($0.data["offset"] as? NSNumber)?.int64Value }.max() ?? 0
            let finished = events.last { $0.type == "TransferFinished" && $0.data["task_id"] as? String == task }
            let resumed = (finished?.data["resumed_from_offset"] as? NSNumber)?.int64Value ?? 0
            #expect(resumed >= saved, "task \(task) checkpointed at \(saved) yet resumed from \(resumed)")
            if saved > 0 { resumedSomewhere = true }
            let last = events.last { $0.type == "TaskAssigned" && $0.data["task_id"] as? String == task }
            #expect(last?.data["proxy_name"] as? String == "proxy-2")
        }
        #expect(resumedSomewhere, "no moved task had a checkpoint to resume from")
        #expect(try await world.processEvents("ProxyProcessLost").count == 1)
        let list = try world.environment.tidemark(["proxy", "list"])
        #expect(list.output.contains("offline"), "\(list.output)")
    }

    @Test("a frozen proxy loses its lease: its task moves, and once it wakes its late writes are refused")
    func frozenProxy() async throws {
        let world = try await ProxyWorld.make(vms: 2, diskSize: 12 << 20, throttle: 4 << 20)
        defer { world.environment.remove() }
        // A lease long enough for the rescuer, started once this one froze, to register before
        // the task moves (else it would move to proxy-2 as an embedded proxy).
        let frozen = try await world.startProxy("proxy-1", lease: 4, maxTasks: 2)
        let manager = world.manager()
        let session = try await manager.begin(job: world.environment.jobName, trigger: "manual")
        let run = Task { try await manager.run(session: session) }
        var stopped = false
        for _ in 0..<600 where !stopped {
            if try await world.events(of: session).contains(where: { $0.type == "TransferCheckpointed" }) {
                frozen.signal(SIGSTOP)
                stopped = true
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(stopped)
        // proxy-2 takes the tasks over; proxy-1 wakes while they run there.
        let rescuer = try await world.startProxy("proxy-2", maxTasks: 2)
        for _ in 0..<400 {
            if try await world.events(of: session).contains(where: { $0.type == "TaskReassigned" }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        frozen.signal(SIGCONT)
        let report = try await run.value
        #expect(report.finished.result == .success, "\(report.finished)")
        let events = try await world.checkDone(session, tasks: 2)
        #expect(try await frozen.waitFor("lease lost", seconds: 20), "\(frozen.output)")
        #expect(try await frozen.waitFor("running on", seconds: 20))
        #expect(
            try await rescuer.waitFor("task finished", seconds: 30),
            "\(events.map { "\($0.type) \($0.data["task_id"] ?? "") \($0.data["proxy_name"] ?? "") \($0.data["reason"] ?? "")" })")
        // Whatever the woken process still finished under a token taken back from it was
        // refused (by the database or by the fence); once registered again as a new process
        // it may take tasks of its own, under new tokens.
        let takenBack = Set(events.filter { $0.type == "TaskReassigned" }.compactMap { ($0.data["token"] as? NSNumber)?.int64Value })
        #expect(!takenBack.isEmpty)
        for line in frozen.output.split(separator: "\n") where line.contains("task finished") {
            let token = line.split(separator: " ").first { $0.hasPrefix("token=") }.flatMap { Int64($0.dropFirst("token=".count)) }
            #expect(!takenBack.contains(token ?? -1) || line.contains("report was refused"), "\(frozen.output)")
        }
    }

    @Test("a running proxy sees a server added to the catalog: its reach is updated and recorded, without a restart")
    func reachRefreshed() async throws {
        let world = try await ProxyWorld.make(vms: 1, diskSize: 1 << 20)
        defer { world.environment.remove() }
        let proxy = try await world.startProxy("proxy-1", extra: ["--reach-check-seconds", "1"])
        let second = try LabAdapter.create(
            at: world.environment.folder.appendingPathComponent("lab-2").path, vms: 1, disksPerVM: 1, diskSize: 1 << 20)
        let catalog = CatalogStore(events: world.environment.database.eventStore())
        try await catalog.execute(metadata: EventMetadata(actor: "test")) { start throws(CatalogError) in
            var plan = CatalogPlan(start)
            try plan.add(ManagedServer(name: "lab-2", platform: .lab, folder: second.root))
            return plan.changes
        }
        let added = try #require(try await catalog.load().id(of: ManagedServer.self, named: "lab-2"))
        var reached = false
        for _ in 0..<300 where !reached {
            let rows = try await world.environment.database.administratorQuery(
                "SELECT reach::text FROM tidemark.proxy_processes WHERE proxy_name = 'proxy-1' AND ended_at IS NULL")
            reached = try rows.rowCount == 1 && rows.decode(0, 0, as: String.self).contains(added)
            if !reached { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(reached, "the process's reach names the server added")
        // The row is updated first, the event recorded right after: wait for it.
        var changed = try await world.processEvents("ProxyProcessReachChanged")
        for _ in 0..<100 where changed.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            changed = try await world.processEvents("ProxyProcessReachChanged")
        }
        #expect(changed.count == 1, "\(changed)")
        #expect(((changed.first?["reach"] as? [String: Any])?["servers"] as? [String: Any])?[added] != nil)
        #expect(try await proxy.waitFor("what the process reaches changed"), "\(proxy.output)")
    }

    @Test("SIGTERM hands the tasks back at once; the proxy is embedded again and the session finishes")
    func stoppedProxy() async throws {
        let world = try await ProxyWorld.make(vms: 2, diskSize: 12 << 20, throttle: 4 << 20)
        defer { world.environment.remove() }
        let leaving = try await world.startProxy("proxy-1", lease: 30, maxTasks: 2)
        let manager = world.manager()
        let session = try await manager.begin(job: world.environment.jobName, trigger: "manual")
        let run = Task { try await manager.run(session: session) }
        // Both tasks taken and moving before the signal: a task assigned but not yet taken
        // would be moved for another reason ("ended before the task reached it").
        for _ in 0..<600 {
            let moving = Set(
                try await world.events(of: session).filter { $0.type == "TransferCheckpointed" }.compactMap {
                    $0.data["task_id"] as? String
                })
            if moving.count == 2 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        leaving.signal(SIGTERM)
        #expect(try await leaving.waitForExit() == 0, "\(leaving.output)")
        let report = try await run.value
        #expect(report.finished.result == .success, "\(report.finished)")
        let events = try await world.checkDone(session, tasks: 2)
        let moved = events.filter { $0.type == "TaskReassigned" }
        #expect(!moved.isEmpty && moved.allSatisfy { ($0.data["reason"] as? String ?? "").contains("handed it back") }, "\(moved)")
        #expect(try await world.processEvents("ProxyProcessStopped").count == 1)
        let list = try world.environment.tidemark(["proxy", "list", "--json"])
        #expect(list.output.contains(#""state":"embedded""#), "\(list.output)")
    }

    @Test("a proxy whose host cannot see the lab is never chosen; the other takes every task")
    func unreachableDatastore() async throws {
        let world = try await ProxyWorld.make(vms: 3, diskSize: 2 << 20)
        defer { world.environment.remove() }
        // A mount namespace of its own hides the lab's folder from proxy-1's process.
        let blind = try await world.startProxy(
            "proxy-1",
            wrapper: [
                "/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                "mount -t tmpfs tmpfs '\(world.environment.labPath)' && exec \"$0\" \"$@\"",
            ])
        #expect(blind.output.contains("reaches no managed server"), "\(blind.output)")
        let seeing = try await world.startProxy("proxy-2", maxTasks: 3)
        defer { withExtendedLifetime(seeing) {} }
        let manager = world.manager()
        let session = try await manager.begin(job: world.environment.jobName, trigger: "manual")
        let report = try await manager.run(session: session)
        #expect(report.finished.result == .success, "\(report.finished)")
        let events = try await world.checkDone(session, tasks: 3)
        for selected in events.filter({ $0.type == "ProxySelected" }) {
            let candidates = (selected.data["candidates"] as? [[String: Any]] ?? []).compactMap { $0["proxy_name"] as? String }
            #expect(!candidates.contains("proxy-1"), "proxy-1 was a candidate: \(candidates)")
        }
        #expect(events.filter { $0.type == "TaskAssigned" }.allSatisfy { $0.data["proxy_name"] as? String == "proxy-2" })
    }

    @Test("the Job Manager killed while proxies work: the resumed session follows them again, each transfer finishes once")
    func jobManagerKilled() async throws {
        let world = try await ProxyWorld.make(vms: 3, diskSize: 12 << 20, throttle: 6 << 20)
        defer { world.environment.remove() }
        let first = try await world.startProxy("proxy-1", lease: 30, maxTasks: 2)
        let second = try await world.startProxy("proxy-2", lease: 30, maxTasks: 2)
        let job = try RunningTidemark(
            ["job", "start", world.environment.jobName, "--quiet", "--database-url", world.environment.databaseURL],
            in: world.environment.folder)
        var killed = false
        // Killed once a process took a task (its assignment reached it and runs there):
        // counting `TaskAssigned` alone, a loaded machine could kill the Job Manager before it
        // handed any recorded assignment over, and then no task is followed.
        for _ in 0..<600 where !killed {
            let assigned = try await world.environment.database.administratorQuery(
                "SELECT count(*) FROM tidemark.proxy_assignments WHERE state = 'running'")
            if try assigned.decode(0, 0, as: Int64.self) >= 1 {
                job.signal(SIGKILL)
                killed = true
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(killed)
        _ = try await job.waitForExit()
        let resumed = try world.environment.tidemark(["job", "start", world.environment.jobName, "--quiet"])
        #expect(resumed.status == 0, "\(resumed.output)")
        let session = try await world.environment.database.administratorQuery(
            "SELECT stream_id FROM tidemark.events WHERE event_type = 'SessionStarted'"
        ).decode(0, 0, as: String.self).dropFirst("session-".count)
        let events = try await world.checkDone(String(session), tasks: 3)
        #expect(events.contains { $0.type == "SessionFinished" && $0.data["result"] as? String == "success" })
        // A task a process held when the Job Manager died was followed, not moved: one
        // assignment, finished. Only one whose assignment never reached its process (the kill
        // fell between recording it and handing it over) is chosen again.
        let followed = Set(events.compactMap { $0.data["task_id"] as? String }).filter { task in
            events.filter { $0.type == "TaskAssigned" && $0.data["task_id"] as? String == task }.count == 1
        }
        #expect(!followed.isEmpty)
        let moved = events.filter { $0.type == "TaskReassigned" }
        #expect(moved.allSatisfy { ($0.data["reason"] as? String ?? "").contains("is gone") }, "\(moved.map(\.data))")
        var either = false
        for _ in 0..<300 where !either {
            either = first.output.contains("task finished") || second.output.contains("task finished")
            if !either { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(either, "neither process logged a finished task")
    }

    @Test("proxy run refuses an unknown name, a second process of a running proxy, and a lease shorter than two heartbeats")
    func badInput() async throws {
        let world = try await ProxyWorld.make(vms: 1, diskSize: 1 << 20)
        defer { world.environment.remove() }
        let unknown = try world.proxyCommand(["proxy", "run", "nope", "--key-file", world.keyFile("nope")])
        #expect(unknown.status != 0 && unknown.output.contains("no proxy 'nope'") && unknown.output.contains("proxy-1, proxy-2"))
        #expect(!FileManager.default.fileExists(atPath: world.keyFile("nope")), "an unknown proxy made a key file")
        let running = try await world.startProxy("proxy-1", lease: 30)
        let twice = try world.proxyCommand(["proxy", "run", "proxy-1", "--key-file", world.keyFile("proxy-1")])
        #expect(twice.status != 0 && twice.output.contains("already runs on host"), "\(twice.output)")
        let lease = try world.proxyCommand(["proxy", "run", "proxy-1", "--heartbeat-seconds", "2", "--lease-seconds", "3"])
        #expect(lease.status != 0 && lease.output.contains("at least twice"), "\(lease.output)")
        let list = try world.environment.tidemark(["proxy", "list"])
        #expect(list.output.contains("live") && list.output.contains("embedded"), "\(list.output)")
        running.signal(SIGTERM)
        #expect(try await running.waitForExit() == 0)
        #expect(try await world.processEvents("ProxyProcessStarted").count == 1)
    }
}
