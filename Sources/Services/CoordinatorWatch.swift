import Collectives
import Emulation
import Logging
import StraitsWire
import Transport
import ZeroMQ

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

    /// Elastic jobs (the plan's `successor_wait_s`): how long to wait for a successor
    /// (`straits-coordinator --resume`) once the coordinator went silent; nil: give up then.
    var successorWait: Duration?
    /// Whether this silence's join to a successor went out.
    private var successorAsked = false

    /// Why to give up now (the coordinator is silent, and no successor came; or it never
    /// admitted us), or nil.
    func failure(at now: ContinuousClock.Instant = .now) -> String? {
        if let lastHeard, now - lastHeard > deadAfter + (successorWait ?? .zero) {
            guard let successorWait else {
                return "the coordinator at \(endpoint) has been silent for \(deadAfterSeconds) s; giving up"
            }
            return
                "the coordinator at \(endpoint) has been silent for \(deadAfterSeconds) s, and no successor came within \(successorWait); giving up"
        }
        if lastHeard == nil && now > joinDeadline {
            return "not admitted by the coordinator at \(endpoint) within \(joinTimeoutSeconds) s; giving up"
        }
        return nil
    }

    /// Whether the coordinator went silent and a successor is awaited.
    func awaitingSuccessor(at now: ContinuousClock.Instant = .now) -> Bool {
        guard successorWait != nil, let lastHeard else { return false }
        return now - lastHeard > deadAfter
    }

    /// True once a silence: the moment to join the successor (the join waits in the socket until
    /// one binds the endpoint). Its clock is measured afresh once it admits us.
    mutating func successorJoinDue(at now: ContinuousClock.Instant = .now) -> Bool {
        guard awaitingSuccessor(at: now), !successorAsked else { return false }
        successorAsked = true
        clockMeasured = false
        return true
    }

    /// Once a silence, when a successor is awaited: sends it `join` again with the epoch this
    /// member ran in (the message waits in the socket until a successor binds the endpoint).
    mutating func joinSuccessorIfDue(
        _ join: ControlMessage.Join, epoch: Int, on socket: inout ZMQSocket, log: Logger
    ) throws {
        guard successorJoinDue() else { return }
        var again = join
        again.epoch = epoch
        log.warning(
            "the coordinator at \(endpoint) went silent; waiting up to \(successorWait!) for a successor (straits-coordinator --resume)"
        )
        try ControlLink.send(.join(again), on: &socket)
    }

    /// The next heartbeat's sequence number if one is due (after admission, and not while a
    /// successor is awaited: the dead coordinator's would reach the successor first), else nil.
    mutating func heartbeatDue(at now: ContinuousClock.Instant = .now) -> Int? {
        guard lastHeard != nil && now >= nextHeartbeat && !awaitingSuccessor(at: now) else { return nil }
        nextHeartbeat = now + heartbeat
        sequence += 1
        return sequence
    }

    /// How long to wait for a message before looking again (at most `cap`).
    func wait(cap: Duration) -> Duration {
        max(min(nextHeartbeat - .now, cap), .milliseconds(1))
    }

    private(set) var dropped = 0
    private var clockMeasured = false
    /// Control messages that arrived while the clock was measured, handled next.
    private var pending: [[[UInt8]]] = []

    /// The next control message: one kept while the clock was measured, or the socket's next
    /// (nil when `timeout` passes or `doorbell` rings first).
    mutating func receive(
        on socket: inout ZMQSocket, timeout: Duration, wakingOn doorbell: ZMQDoorbell? = nil
    ) throws -> [[UInt8]]? {
        if !pending.isEmpty { return pending.removeFirst() }
        return try ControlLink.receiveFrames(on: &socket, timeout: timeout, wakingOn: doorbell)
    }

    /// Once admitted (the first heartbeat): a process on another host than the coordinator, or
    /// one whose clock a test skewed, measures its clock's offset to the coordinator's before any
    /// data moves (arrival frames carry the coordinator's time, `ClockSync`), and logs it.
    mutating func measureClockOnce(on socket: inout ZMQSocket, options: WatchOptions, log: Logger) throws {
        guard !clockMeasured else { return }
        clockMeasured = true
        guard options.measuresClock(coordinator: endpoint) else { return }
        let (estimate, other) = try ClockSync.measure(on: &socket)
        pending += other
        guard estimate.samples > 0 else {
            log.warning("clock: the coordinator answered no clock probe; arrival times are taken as this clock's")
            return
        }
        log.info(
            "clock: \(fixed(Double(estimate.offset) / 1e3, 1)) µs behind the coordinator's (within ±\(fixed(Double(estimate.errorBound) / 1e3, 1)) µs: best round trip of \(estimate.samples))"
        )
    }

    /// Decodes a message from the coordinator, noting that it was heard; a malformed one is
    /// dropped and logged (nil).
    mutating func accept(_ frames: [[UInt8]], who: String) -> ControlMessage? {
        do {
            let message = try ControlMessage(frames: frames)
            lastHeard = .now
            successorAsked = false
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
