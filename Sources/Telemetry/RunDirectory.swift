import Foundation
import Logging

/// The files of one run (see DESIGN.md, "Run directory"): copies of the topology and job,
/// `plan.json`, `regions/<region>.jsonl`, `links.jsonl`, `steps.jsonl`, `bench.jsonl`,
/// `events.jsonl` and `summary.json`. `report.html` is added by `straits report`.
public final class RunDirectory: Sendable {
    public let path: String
    public let steps: JSONLWriter
    public let bench: JSONLWriter
    public let events: JSONLWriter
    public let links: JSONLWriter
    public let regions: [String: JSONLWriter]

    /// Creates `path` (and `regions/`), copies the topology and job files in, and opens the logs;
    /// `resuming` (a coordinator's successor) keeps what is there and appends to the logs.
    public init(path: String, regionNames: [String], topologyFile: String, jobFile: String, resuming: Bool = false)
        throws
    {
        self.path = path
        let manager = FileManager.default
        do {
            if resuming {
                try manager.createDirectory(atPath: path + "/regions", withIntermediateDirectories: true)
            } else {
                try Self.startClean(path, topologyFile: topologyFile, jobFile: jobFile)
            }
        } catch {
            throw TelemetryError("cannot set up the run directory \(path): \(error.localizedDescription)")
        }
        steps = try JSONLWriter(path: path + "/steps.jsonl", appending: resuming)
        bench = try JSONLWriter(path: path + "/bench.jsonl", appending: resuming)
        events = try JSONLWriter(path: path + "/events.jsonl", appending: resuming)
        links = try JSONLWriter(path: path + "/links.jsonl", appending: resuming)
        var regions: [String: JSONLWriter] = [:]
        for name in regionNames {
            regions[name] = try JSONLWriter(path: path + "/regions/\(Self.fileName(name)).jsonl", appending: resuming)
        }
        self.regions = regions
    }

    /// Clears what an earlier run left in `path` and copies the topology and job files in.
    private static func startClean(_ path: String, topologyFile: String, jobFile: String) throws {
        let manager = FileManager.default
        do {
            // A directory used before starts clean: nothing of an earlier run may mix in.
            for name in [
                "coordinator.endpoint", "job.id", "plan.json", "summary.json", "report.html", "coordinator-state.json",
            ]
            where manager.fileExists(atPath: path + "/" + name) {
                try manager.removeItem(atPath: path + "/" + name)
            }
            if manager.fileExists(atPath: path + "/regions") { try manager.removeItem(atPath: path + "/regions") }
            try manager.createDirectory(atPath: path + "/regions", withIntermediateDirectories: true)
            for (source, name) in [(topologyFile, "topology.yaml"), (jobFile, "job.yaml")] {
                let target = path + "/" + name
                // The file may already be the copy (a run directory reused with its own files).
                if URL(fileURLWithPath: source).standardizedFileURL == URL(fileURLWithPath: target).standardizedFileURL
                {
                    continue
                }
                if manager.fileExists(atPath: target) { try manager.removeItem(atPath: target) }
                try manager.copyItem(atPath: source, toPath: target)
            }
        }
    }

    /// A region name as a file name (anything but letters, digits, `-`, `_` and `.` becomes `_`).
    public static func fileName(_ region: String) -> String {
        String(region.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
    }

    /// Writes a whole JSON file (`plan.json`, `summary.json`) atomically and durably
    /// (`writeDurably`).
    public func write(_ name: String, _ value: JSONValue) {
        do {
            try writeDurably(Array((value.encoded + "\n").utf8), to: path + "/" + name)
        } catch {
            Logger(label: "straits").error("\(error)")
        }
    }

    /// Puts every JSONL line written so far on the disk.
    public func sync() {
        for writer in [steps, bench, events, links] + Array(regions.values) { writer.sync() }
    }

    /// Writes a whole file that arrived from a worker (a model's parameters) atomically and
    /// durably: a reader sees the old file or the whole new one.
    public func writeFile(_ name: String, bytes: [UInt8]) throws {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw TelemetryError(
                "refusing to write \(name.debugDescription) in the run directory: not a plain file name")
        }
        try writeDurably(bytes, to: path + "/" + name)
    }

    /// Appends an event with its time, kind and fields.
    public func event(_ kind: String, _ fields: [(String, JSONValue)] = []) {
        events.append(.object([("t", .string(Self.timestamp())), ("event", .string(kind))] + fields))
    }

    /// Now, ISO-8601 with milliseconds, UTC.
    public static func timestamp(_ date: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
