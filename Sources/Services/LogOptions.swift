import ArgumentParser
import Logging
import Transport

/// `--log-level`, which every daemon takes.
public struct LogOptions: ParsableArguments, Sendable {
    @Option(
        name: .customLong("log-level"),
        help: ArgumentHelp(
            "The least severe messages logged: trace, debug, info, notice, warning, error or critical.",
            valueName: "level"),
        transform: { text in
            guard let level = Logger.Level(rawValue: text) else {
                throw ValidationError(
                    "expected trace, debug, info, notice, warning, error or critical, got \"\(text)\"")
            }
            return level
        })
    public var level = Logger.Level.info

    public init() {}

    /// Sends this process's log lines to `stream` from `info` up (commands without `--log-level`).
    public static func bootstrapDefault(stream: LineLogHandler.Stream) {
        LineLogHandler.bootstrap(stream: stream, level: .info)
    }

    /// Sends this process's log lines to `stream` from the chosen level up.
    public func bootstrap(stream: LineLogHandler.Stream) {
        LineLogHandler.bootstrap(stream: stream, level: level)
    }
}
