import ArgumentParser
import Transport

/// How a worker or gateway watches its coordinator (`CoordinatorWatch`): the flags both take.
public struct WatchOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("heartbeat-ms"), help: ArgumentHelp("Heartbeat interval.", valueName: "ms"))
    var heartbeatMilliseconds = 500.0

    @Option(
        name: .customLong("dead-after-s"),
        help: ArgumentHelp(
            "The coordinator counts as gone after this long of silence.", valueName: "s"))
    public var deadAfterSeconds = 5.0

    @Option(name: .customLong("join-timeout-s"), help: ArgumentHelp("Give up if not admitted by then.", valueName: "s"))
    public var joinTimeoutSeconds = 60.0

    public init() {}

    public func validate() throws {
        try FlagCheck.positive(heartbeatMilliseconds, "--heartbeat-ms")
        try FlagCheck.positive(deadAfterSeconds, "--dead-after-s", maximum: 86_400)
        try FlagCheck.positive(joinTimeoutSeconds, "--join-timeout-s", maximum: 86_400)
    }

    public var heartbeatSeconds: Double { heartbeatMilliseconds / 1000 }
}
