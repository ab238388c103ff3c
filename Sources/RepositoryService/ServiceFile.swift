import Foundation
import Repository

/// The service's small JSON files (settings, tokens, restore point records): read whole,
/// written whole by `DurableFile` (atomic, flushed), ISO 8601 dates, sorted keys.
enum ServiceFile {
    /// The file's value; nil when there is no file; refused, naming `what`, when it does not read.
    static func read<Value: Decodable>(_ type: Value.Type, from path: String, what: String) throws(RepositoryServiceError) -> Value? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let value = try? decoder.decode(type, from: data) else {
            throw RepositoryServiceError(.invalidInput, "\(path) is not \(what); restore it from a copy")
        }
        return value
    }

    static func write(_ value: some Encodable, to path: String, what: String, mode: mode_t? = nil) throws(RepositoryServiceError) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(value) else { throw RepositoryServiceError(.io, "could not encode \(what)") }
        do {
            try DurableFile.write(Array(data), to: path)
        } catch {
            throw RepositoryServiceError(error)
        }
        if let mode { chmod(path, mode) }
    }
}
