import CYaml
import Foundation

/// What a job document may not be, checked on libyaml's event stream before Yams builds a
/// tree from it. Yams builds by recursion and hashes every mapping key with the whole tree
/// beneath it, aliases followed: a body of half a million `[` would exhaust the stack, and a
/// few hundred bytes of nested aliases (`&a [x, x, ...]`, `&b [*a, *a, ...]`, ...) would take
/// a billion steps. A job is a mapping three levels deep without anchors, so deeper nesting
/// and any anchor or alias are refused, with the line. The events come one at a time, without
/// recursion, so the check itself is bounded by the text's length.
enum JobDocumentShape {
    static let maximumDepth = 8

    static func check(_ text: String, file: String) throws(CatalogError) {
        // On the heap: libyaml keeps a pointer to the parser in the parser, so its address
        // must not move between calls.
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else {
            throw CatalogError(.invalidDocument, "\(file): the YAML reader could not start (out of memory?)")
        }
        defer { yaml_parser_delete(parser) }
        var bytes = Array(text.utf8)
        var failure: CatalogError?
        bytes.withUnsafeMutableBufferPointer { buffer in
            yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
            var depth = 0
            while true {
                var event = yaml_event_t()
                // A syntax error is left to the reader, which says it with its position.
                guard yaml_parser_parse(parser, &event) == 1 else { return }
                defer { yaml_event_delete(&event) }
                let line = Int(event.start_mark.line) + 1
                switch event.type {
                case YAML_ALIAS_EVENT:
                    failure = CatalogError(
                        .invalidDocument, "\(file) line \(line): anchors and aliases (&, *) are not used in job documents")
                case YAML_SCALAR_EVENT where event.data.scalar.anchor != nil,
                    YAML_SEQUENCE_START_EVENT where event.data.sequence_start.anchor != nil,
                    YAML_MAPPING_START_EVENT where event.data.mapping_start.anchor != nil:
                    failure = CatalogError(
                        .invalidDocument, "\(file) line \(line): anchors and aliases (&, *) are not used in job documents")
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    depth += 1
                    if depth > maximumDepth {
                        failure = CatalogError(
                            .invalidDocument,
                            "\(file) line \(line): nested more than \(maximumDepth) levels deep; a job document is a mapping of a few levels"
                        )
                    }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT: depth -= 1
                case YAML_STREAM_END_EVENT: return
                default: break
                }
                if failure != nil { return }
            }
        }
        if let failure { throw failure }
    }
}
