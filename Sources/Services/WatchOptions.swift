import ArgumentParser
import Emulation
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

    @Option(
        name: .customLong("clock-offset-s"),
        help: ArgumentHelp(
            "For tests: read this process's clock this many seconds ahead (negative: behind), as another host's would be.",
            discussion:
                "The process then measures its offset to the coordinator as it would on another host, and every arrival time it sends or takes is converted with that measurement.",
            valueName: "s"))
    public var clockOffsetSeconds: Double?

    @Option(
        name: .customLong("job-id"),
        help: ArgumentHelp(
            "The job to join (the coordinator's job.id): a coordinator running another job refuses the join.",
            valueName: "id"))
    public var jobID: String?

    public init() {}

    public func validate() throws {
        try FlagCheck.positive(heartbeatMilliseconds, "--heartbeat-ms")
        try FlagCheck.positive(deadAfterSeconds, "--dead-after-s", maximum: 86_400)
        try FlagCheck.positive(joinTimeoutSeconds, "--join-timeout-s", maximum: 86_400)
        if let jobID { try FlagCheck.jobID(jobID) }
        if let offset = clockOffsetSeconds, !(offset.isFinite && abs(offset) <= 86_400) {
            throw ValidationError("--clock-offset-s expects seconds within ±86400, got \(offset)")
        }
    }

    public var heartbeatSeconds: Double { heartbeatMilliseconds / 1000 }

    /// Whether this process must measure its clock against the coordinator's: it reaches the
    /// coordinator off this machine, or a test made its clock another host's.
    public func measuresClock(coordinator: String) -> Bool {
        clockOffsetSeconds != nil || !ClockSync.sharesClock(coordinator: coordinator)
    }

    /// Applies `--clock-offset-s` to this process's clock (before any thread reads it).
    public func injectClockOffset() {
        if let offset = clockOffsetSeconds {
            SystemClock.injectedOffset.store(Int64(offset * 1e9), ordering: .relaxed)
        }
    }
}
