import ArgumentParser
import Logging
import Transport

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `--log-level`, which every daemon takes.
public struct LogOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("log-level"), help: "The least severe messages logged.")
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
