import StraitsWire
import Transport

/// A worker's or gateway's view of its coordinator: whether it was admitted in time, whether it
/// has gone silent, and when the next heartbeat is due.
struct CoordinatorWatch {
    let endpoint: String
    let heartbeat: Duration
    let deadAfter: Duration
    let joinDeadline: ContinuousClock.Instant
    private let deadAfterSeconds: Double
    private let joinTimeoutSeconds: Double
    private(set) var lastHeard: ContinuousClock.Instant?
    private var nextHeartbeat = ContinuousClock.now
    private(set) var sequence = 0

    init(endpoint: String, heartbeatSeconds: Double, deadAfterSeconds: Double, joinTimeoutSeconds: Double) {
        self.endpoint = endpoint
        heartbeat = .milliseconds(Int(heartbeatSeconds * 1000))
        deadAfter = .milliseconds(Int(deadAfterSeconds * 1000))
        joinDeadline = .now + .milliseconds(Int(joinTimeoutSeconds * 1000))
        self.deadAfterSeconds = deadAfterSeconds
        self.joinTimeoutSeconds = joinTimeoutSeconds
    }

    /// Why to give up now (the coordinator is silent, or never admitted us), or nil.
    func failure(at now: ContinuousClock.Instant = .now) -> String? {
        if let lastHeard, now - lastHeard > deadAfter {
            return "the coordinator at \(endpoint) has been silent for \(deadAfterSeconds) s; giving up"
        }
        if lastHeard == nil && now > joinDeadline {
            return "not admitted by the coordinator at \(endpoint) within \(joinTimeoutSeconds) s; giving up"
        }
        return nil
    }

    /// The next heartbeat's sequence number if one is due (after admission), else nil.
    mutating func heartbeatDue(at now: ContinuousClock.Instant = .now) -> Int? {
        guard lastHeard != nil && now >= nextHeartbeat else { return nil }
        nextHeartbeat = now + heartbeat
        sequence += 1
        return sequence
    }

    /// How long to wait for a message before looking again (at most `cap`).
    func wait(cap: Duration) -> Duration {
        max(min(nextHeartbeat - .now, cap), .milliseconds(1))
    }

    private(set) var dropped = 0

    /// Decodes a message from the coordinator, noting that it was heard; a malformed one is
    /// dropped and logged (nil).
    mutating func accept(_ frames: [[UInt8]], who: String) -> ControlMessage? {
        do {
            let message = try ControlMessage(frames: frames)
            lastHeard = .now
            return message
        } catch {
            drop(who, "\(error)")
            return nil
        }
    }

    /// Counts and logs a message that is not for this process.
    mutating func drop(_ who: String, _ reason: String) {
        dropped += 1
        ControlLink.logDropped(who, count: dropped, reason)
    }
}
