import Foundation
import Logging

/// A record with the time it was written in front (`t`, ISO-8601 with milliseconds, UTC): the
/// record's own fields follow in the same JSON object.
public struct Stamped<Record: Encodable & Sendable>: Encodable, Sendable {
    public let t: String
    public let record: Record

    public init(_ record: Record, at timestamp: String = RunDirectory.timestamp()) {
        t = timestamp
        self.record = record
    }

    enum CodingKeys: String, CodingKey { case t }

    public func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(t, forKey: .t)
        try record.encode(to: encoder)
    }
}

extension JSONLWriter {
    /// Appends `record` as one line, encoded by `JSONEncoder` with its keys sorted (so a record
    /// reads the same every time). A record that does not encode is logged, not written.
    public func append<Record: Encodable>(encoding record: Record) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            appendLine(String(decoding: try encoder.encode(record), as: UTF8.self))
        } catch {
            Logger(label: "straits").error("cannot encode a record for \(path): \(error)")
        }
    }
}
