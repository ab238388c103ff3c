import CLibPQ
import Foundation

/// The C arrays libpq wants for one statement's parameters, alive for the call's duration.
struct ParameterBuffers: ~Copyable {
    var values: [UnsafePointer<CChar>?]
    var lengths: [Int32]
    var formats: [Int32]
    var types: [Oid]
    private var allocations: [UnsafeMutableRawPointer] = []

    init(_ parameters: [any PostgresEncodable], statement: String) throws(PostgresError) {
        values = []
        lengths = []
        formats = []
        types = []
        values.reserveCapacity(parameters.count)
        for (index, parameter) in parameters.enumerated() {
            switch parameter.postgresParameter {
            case .null:
                values.append(nil)
                lengths.append(0)
                formats.append(0)
                types.append(0)
            case .text(let text):
                var utf8 = Array(text.utf8)
                if utf8.contains(0) {
                    // deinit frees what was allocated so far.
                    throw PostgresError(
                        .invalidInput,
                        message: "parameter $\(index + 1) contains a NUL character, which PostgreSQL text cannot hold",
                        statement: statement)
                }
                utf8.append(0)
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: utf8.count, alignment: 1)
                utf8.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: utf8.count) }
                allocations.append(buffer)
                values.append(UnsafePointer(buffer.assumingMemoryBound(to: CChar.self)))
                lengths.append(0)
                formats.append(0)
                types.append(0)
            case .binary(let bytes, let oid):
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
                bytes.withUnsafeBytes { source in
                    if let base = source.baseAddress { buffer.copyMemory(from: base, byteCount: bytes.count) }
                }
                allocations.append(buffer)
                values.append(UnsafePointer(buffer.assumingMemoryBound(to: CChar.self)))
                lengths.append(Int32(bytes.count))
                formats.append(1)
                types.append(oid)
            }
        }
    }

    var count: Int32 { Int32(values.count) }

    deinit {
        for pointer in allocations { free(pointer) }
    }
}
