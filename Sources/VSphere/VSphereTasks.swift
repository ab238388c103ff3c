import Foundation
import Infrastructure

extension VSphereClient {
    /// Waits for a vCenter task to end, polling its `info` (quickly at first, then once a
    /// second); returns its result reference, or throws its fault with vCenter's name for it.
    func waitForTask(_ task: ManagedObjectReference, doing what: String) async throws(InfrastructureError) -> ManagedObjectReference? {
        var delay: UInt64 = 5_000_000
        while true {
            let info = try await retrieve(task, properties: ["info"]).properties["info"]
            switch info?.value("state") {
            case "success":
                return ManagedObjectReference(info?["result"])
            case "error":
                let fault = info?["error"]?["fault"]?.type ?? "unknown fault"
                let message = info?.value("error", "localizedMessage") ?? fault
                let code: InfrastructureError.Code = fault == "ManagedObjectNotFound" ? .unknownObject : .io
                throw InfrastructureError(code, "vCenter task \(task.value) (\(what)) failed: \(message)", fault: fault)
            default:
                try? await Task.sleep(nanoseconds: delay)
                delay = min(delay * 2, 1_000_000_000)
            }
        }
    }

    /// `QueryChangedDiskAreas` from `since` up to the snapshot, every page of it.
    func changedAreas(
        vm: ManagedObjectReference, snapshot: String, diskKey: Int, capacity: Int64, since: String
    )
        async throws(InfrastructureError) -> [DiskArea]
    {
        var areas: [DiskArea] = []
        var offset: Int64 = 0
        while offset < capacity {
            let response = try await call(
                "QueryChangedDiskAreas", this: vm,
                ManagedObjectReference(type: "VirtualMachineSnapshot", value: snapshot).xml("snapshot")
                    + "<deviceKey>\(diskKey)</deviceKey><startOffset>\(offset)</startOffset><changeId>\(xmlEscaped(since))</changeId>")
            guard let info = response["returnval"], let start = info.value("startOffset").flatMap(Int64.init),
                let length = info.value("length").flatMap(Int64.init), length > 0
            else { break }
            for area in info.all("changedArea") {
                if let from = area.value("start").flatMap(Int64.init), let size = area.value("length").flatMap(Int64.init) {
                    areas.append(DiskArea(offset: from, length: size))
                }
            }
            offset = start + length
        }
        return areas
    }
}
