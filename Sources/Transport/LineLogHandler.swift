import Foundation
import Logging
import Synchronization

/// The log format of Straits' processes: one line per message, `label: message`, as people read
/// the cluster's progress, with the level in front of warnings and errors
/// (`straits-gateway eu-west: warning: ...`) and any metadata after it as `key=value`. Each line
/// goes out in one write, so lines of several threads never interleave.
public struct LineLogHandler: LogHandler {
    /// Where a process's lines go.
    public enum Stream: Sendable {
        case standardOutput, standardError
    }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let stream: Stream

    public init(label: String, stream: Stream, level: Logger.Level) {
        self.label = label
        self.stream = stream
        logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = label + ": "
        if event.level >= .warning { line += "\(event.level): " }
        line += event.message.description
        let merged = metadata.merging(metadataProvider?.get() ?? [:]) { $1 }.merging(event.metadata ?? [:]) { $1 }
        if !merged.isEmpty {
            line += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        let data = Data((line + "\n").utf8)
        switch stream {
        case .standardOutput: FileHandle.standardOutput.write(data)
        case .standardError: FileHandle.standardError.write(data)
        }
    }

    /// Sets up every logger of this process: lines to `stream` from `level` up. Call once, first.
    public static func bootstrap(stream: Stream, level: Logger.Level) {
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, stream: stream, level: level) }
    }
}
