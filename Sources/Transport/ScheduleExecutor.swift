import Collectives
import Emulation
import StraitsWire
import ZeroMQ

/// The transport shell: carries out one rank's `CollectiveSchedule` over its `DataPlane`.
///
/// Runs on the rank's device thread and blocks it (never the cooperative pool). Sends go
/// zero-copy straight from the rank's buffer, each preceded by a `DataFrameHeader` frame; a range
/// is written again only after libzmq has released the send that reads it (the schedule's
/// dependencies say so, and the release queue reports it). Received payloads are reduced
/// straight out of libzmq's message into the buffer, with no staging copy.
public struct ScheduleExecutor {
    private struct MessageKey: Hashable {
        let peer: Int
        let tag: UInt64
    }

    private let plane: DataPlane
    private let buffer: UnsafeMutableRawPointer
    private let elementCount: Int
    private let collectiveID: UInt64
    private let step: UInt64
    private let timeout: Duration
    private let deadline: ContinuousClock.Instant
    private let compression: WireCompression?
    private var runner: ScheduleRunner
    private var held: [MessageKey: HeldMessage] = [:]
    private var work: [ScheduleRunner.Directive] = []

    /// Runs `schedule` on the float32 elements at `buffer` (`elementCount` of them, any
    /// alignment). Throws if a peer sends something malformed or the deadline passes.
    public static func run(
        _ schedule: CollectiveSchedule,
        buffer: UnsafeMutableRawPointer,
        elementCount: Int,
        on plane: DataPlane,
        collectiveID: UInt64,
        step: UInt64 = 0,
        timeout: Duration,
        compression: WireCompression? = nil
    ) throws {
        try compression?.check(schedule)
        var executor = ScheduleExecutor(
            plane: plane, buffer: buffer, elementCount: elementCount, collectiveID: collectiveID, step: step,
            timeout: timeout, deadline: .now + timeout, runner: ScheduleRunner(schedule), compression: compression)
        try executor.run()
    }

    private init(
        plane: DataPlane, buffer: UnsafeMutableRawPointer, elementCount: Int, collectiveID: UInt64, step: UInt64,
        timeout: Duration, deadline: ContinuousClock.Instant, runner: ScheduleRunner, compression: WireCompression?
    ) {
        self.compression = compression
        self.plane = plane
        self.buffer = buffer
        self.elementCount = elementCount
        self.collectiveID = collectiveID
        self.step = step
        self.timeout = timeout
        self.deadline = deadline
        self.runner = runner
    }

    private mutating func run() throws {
        try plane.checkSuperseded()
        work = runner.start()
        let stale = plane.dropEarly(before: collectiveID)
        if stale > 0 {
            plane.reject(
                "\(stale) message\(stale == 1 ? "" : "s") kept for collectives before \(collectiveID), which will not run here"
            )
        }
        for held in plane.takeEarly(collectiveID) { try file(held) }
        while true {
            while let directive = work.popLast() {
                switch directive {
                case .send(let operation):
                    try send(operation)
                case .receive(let operation):
                    let key = MessageKey(peer: operation.kind.peer, tag: operation.tag)
                    guard let message = held.removeValue(forKey: key) else {
                        throw RuntimeError(
                            .protocolViolation, "rank \(plane.rank): \(operation) is ready but its message is missing")
                    }
                    try apply(operation, message)
                    work += runner.completed(operation.id)
                }
            }
            for id in plane.releases.drain() { work += runner.completed(id) }
            if !work.isEmpty { continue }
            if runner.isFinished { return }
            try receiveOne()
        }
    }

    private func timedOut() -> RuntimeError {
        RuntimeError(
            .timedOut,
            "rank \(plane.rank): collective \(collectiveID) timed out after \(timeout): \(runner.pendingDescription)")
    }

    /// Waits for the next message (or a release) and files it.
    ///
    /// A gateway may send a message on before it arrives, with the time it does (`HeldMessage.
    /// arrivesAt`): it is held until then. The wait for it ends on the doorbell's timer, which
    /// fires with no slack but wakes a thread late by what the machine's scheduler and
    /// hypervisor leave it, and the later the longer it slept. So the rank approaches an
    /// arrival as the gateways approach a delivery (`OvershootWindow`): sleeps that each cover
    /// half of what is left, a last one (under 250 µs) to shortly before the arrival, by the
    /// recent overshoots of those last wake-ups (20–300 µs), at real-time priority, and a spin
    /// on the clock for the rest. How late after its arrival a waiting rank takes each such
    /// message goes to the traffic counters: the emulated link's punctuality as the rank sees it.
    private mutating func receiveOne() throws {
        try plane.checkSuperseded()
        let waitingSince = SystemClock.shared.now()
        if let first = plane.holding.first, first.arrivesAt! <= waitingSince {
            try take(plane.takeFirstHeld(), waitingSince: waitingSince, now: waitingSince)
            return
        }
        let remaining = deadline - .now
        guard remaining > .zero else { throw timedOut() }
        let early = plane.approachEarly
        var wake: Int64?
        var final = true
        var nearAfterLongHold = false
        if let first = plane.holding.first {
            let arrivesAt = first.arrivesAt!
            (wake, final) =
                early > 0 ? OvershootWindow.approach(from: waitingSince, to: arrivesAt - early) : (arrivesAt, true)
            nearAfterLongHold =
                arrivesAt - waitingSince <= OvershootWindow.nearArrival
                && arrivesAt - first.receivedAt > OvershootWindow.nearArrival
            plane.releases.doorbell.ring(at: SystemClock.kernelTime(wake!))
        }
        // A rank that approaches arrivals waits at real-time priority for the last stretch to
        // one, so that it runs as soon as what it waits for comes: a message, a release, the
        // arrival. It works at normal priority. After a long hold (a message received more than
        // `nearArrival` before it arrives) the sleeps of the last `nearArrival` are at real-time
        // priority too: a wake-up on the way that comes later than what is left of it makes the
        // rank as late as the last one does (measured: 1 Gbit/s at 200 ms). Not after a short
        // one, where the whole wait is short, the machine busy with the other processes' work
        // (the gateways' relaying among it), and a real-time wake on the way takes a core from
        // it (measured: 8% slower at 2 Gbit/s and 1 ms over 3 regions, for a punctuality the
        // short sleeps mostly have anyway).
        let raised = (final || nearAfterLongHold) && early > 0 && plane.raiseForWait()
        defer { if raised { plane.lowerAfterWait() } }
        // A timeout surfaces as nil too; the deadline check above reports it on the next turn.
        let held: HeldMessage?
        do {
            held = try plane.inbox.receive(timeout: remaining, wakingOn: plane.releases.doorbell, rank: plane.rank)
        } catch let error as RuntimeError {
            // A malformed or corrupt message is dropped, not fatal: a stray or hostile sender
            // must not take the rank down. A real peer's missing chunk shows as a timeout.
            plane.reject(error.description)
            return
        }
        var now = SystemClock.shared.now()
        if let held {
            plane.traffic.received(from: Int(held.header.sourceRank), bytes: DataFrameHeader.size + held.payloadSize)
            if let arrivesAt = held.arrivesAt, arrivesAt > now {
                if !plane.hold(held) {
                    plane.reject(
                        "message from rank \(held.header.sourceRank) arriving in \((arrivesAt - now) / 1000) µs: the rank already holds \(plane.holding.count) messages of \(plane.holdingBytes) bytes until they arrive"
                    )
                }
                return
            }
            try take(held, waitingSince: waitingSince, now: now)
        } else if let first = plane.holding.first, let wake, now >= wake, final {
            // The last timer of the approach rang (a release, or a timer on the way, returns
            // earlier, and the next turn sets the timer again).
            let arrivesAt = first.arrivesAt!
            if early > 0 {
                plane.approach.record(now - wake)
                let spinFrom = now
                while now < arrivesAt { now = SystemClock.shared.now() }
                plane.spun(now - spinFrom)
            }
            if arrivesAt <= now { try take(plane.takeFirstHeld(), waitingSince: waitingSince, now: now) }
        }
    }

    /// Files a message that has arrived; one with an arrival time counts how late after it (or
    /// after the rank began to wait, if later) the rank took it.
    private mutating func take(_ held: HeldMessage, waitingSince: Int64, now: Int64) throws {
        if let arrivesAt = held.arrivesAt {
            plane.traffic.arrived(from: Int(held.header.sourceRank), lateBy: now - max(arrivesAt, waitingSince))
        }
        try file(held)
    }

    /// Hands a received message to the runner, or keeps it for the later collective it belongs to.
    private mutating func file(_ held: HeldMessage) throws {
        let header = held.header
        let peer = Int(header.sourceRank)
        // After a membership change: a message of an epoch given up is dropped without a word
        // (its peers sent it before they knew), and one of the next epoch, from a peer that moved
        // to it first, is kept for when this rank gets there.
        if header.epoch < plane.epoch {
            plane.dropStale()
            return
        }
        if header.epoch > plane.epoch {
            if !plane.keepEarly(held) {
                plane.reject(
                    "message from rank \(peer) of membership epoch \(header.epoch) (this rank runs \(plane.epoch)): the store of early messages is full"
                )
            }
            return
        }
        guard peer != plane.rank, peer < runner.schedule.ranks else {
            plane.reject("message claims to come from rank \(peer), which is not a peer of this rank")
            return
        }
        if header.collectiveID > collectiveID {
            // A peer that finished first may start later collectives at once (a step after a
            // probe jumps thousands of ids): kept, within the early store's bound.
            if !plane.keepEarly(held) {
                plane.reject(
                    "message from rank \(header.sourceRank) for collective \(header.collectiveID) while running \(collectiveID): the store of early messages is full (\(plane.earlyCount) messages, \(plane.earlyBytes) bytes)"
                )
            }
            return
        }
        guard header.collectiveID == collectiveID else {
            plane.reject(
                "message from rank \(header.sourceRank) belongs to collective \(header.collectiveID), which already finished here (now running \(collectiveID))"
            )
            return
        }
        // Refused before it is taken, so that the message the schedule waits for can still
        // come: one without the checksum the plan asks for, or one whose offset or size is not
        // its receive's.
        if plane.checksums, header.flags & DataFrameHeader.Flags.checksummed == 0 {
            plane.reject(
                "message from rank \(header.sourceRank) tag \(header.tag) without a CRC32C, which the plan requires")
            return
        }
        if let operation = runner.expectedReceive(from: peer, tag: header.tag),
            let problem = Self.shapeProblem(operation, held)
        {
            plane.reject("rank \(plane.rank): \(problem)")
            return
        }
        do {
            work += try runner.messageArrived(from: peer, tag: header.tag)
        } catch {
            plane.reject("\(error)")
            return
        }
        self.held[MessageKey(peer: peer, tag: header.tag)] = held
    }

    private mutating func send(_ operation: CollectiveSchedule.Operation) throws {
        let range = operation.range
        precondition(range.end <= elementCount, "send of \(range) beyond \(elementCount) elements")
        var header = DataFrameHeader(
            sourceRank: UInt32(plane.rank), step: step, collectiveID: collectiveID, tag: operation.tag,
            offsetBytes: UInt64(range.offset * 4), lengthBytes: UInt64(range.count * 4))
        header.epoch = plane.epoch
        let encoded = compression.flatMap { $0.encode(operation, buffer: buffer) }
        if let encoded {
            header.dtype = DataFrameHeader.DataType(rawValue: compression!.format.rawValue)!
            if plane.checksums {
                header.crc32c = encoded.withUnsafeBytes { CRC32C.checksum($0) }
                header.flags |= DataFrameHeader.Flags.checksummed
            }
        } else if plane.checksums {
            header.crc32c = CRC32C.checksum(
                UnsafeRawBufferPointer(start: buffer + range.offset * 4, count: range.count * 4))
            header.flags |= DataFrameHeader.Flags.checksummed
        }
        let payloadBytes = encoded?.count ?? range.count * 4
        guard payloadBytes <= DataFrameHeader.maximumPayloadBytes else {
            throw RuntimeError(
                .invalidArgument,
                "rank \(plane.rank): a message of \(payloadBytes) bytes to rank \(operation.kind.peer) (\(operation)) is larger than one data frame carries (\(DataFrameHeader.maximumPayloadBytes) bytes); chunk the schedule"
            )
        }
        let outbox = try plane.outbox(operation.kind.peer)
        var message = ZMQMessage()
        if let route = outbox.route { message.append(GatewayRoute.frame(destination: route)) }
        message.append(header.encoded)
        // Small payloads are copied: a copy of 64 KiB costs less than waiting for libzmq to
        // release a zero-copy send, and the range is free again at once. Encoded payloads are
        // the encoder's own copy. So are payloads to a device of the same worker (inproc):
        // libzmq releases those only once the receiver is done with them, and two devices that
        // send each other a range they then receive into (recursive doubling, halving-doubling)
        // would each hold the other's message while waiting for its own to be released.
        let copied =
            encoded != nil || range.count * 4 <= CollectiveSchedule.copyThresholdBytes || outbox.inproc
        if let encoded {
            encoded.withUnsafeBytes { message.append(copying: $0) }
        } else if copied {
            message.append(copying: UnsafeRawBufferPointer(start: buffer + range.offset * 4, count: range.count * 4))
        } else {
            let releases = plane.releases
            let id = operation.id
            let generation = releases.generation
            let payload = UnsafeRawBufferPointer(start: buffer + range.offset * 4, count: range.count * 4)
            message.append(zeroCopy: payload, onRelease: { releases.push(id, generation: generation) })
        }
        plane.traffic.sent(to: operation.kind.peer, bytes: DataFrameHeader.size + (encoded?.count ?? range.count * 4))
        if let blocked = try outbox.socket.trySend(message) {
            try outbox.socket.blockingSend(blocked, timeout: max(deadline - .now, .milliseconds(1)))
        }
        if copied { work += runner.completed(operation.id) }
    }

    /// What makes `held` not the message `operation` receives (its offset, length or payload
    /// size), or nil.
    static func shapeProblem(_ operation: CollectiveSchedule.Operation, _ held: HeldMessage) -> String? {
        let range = operation.range
        let header = held.header
        let payloadBytes = held.payloadSize
        let format = WireCodec.Format(rawValue: header.dtype.rawValue)!
        let expectedBytes = WireCodec.encodedSize(format, count: range.count)
        guard header.offsetBytes == UInt64(range.offset * 4), header.lengthBytes == UInt64(range.count * 4),
            payloadBytes == expectedBytes
        else {
            return
                "message from rank \(header.sourceRank) tag \(header.tag) carries \(payloadBytes) bytes of \(format) at offset \(header.offsetBytes) (header says \(header.lengthBytes)); expected \(expectedBytes) bytes for \(range.count) values at offset \(range.offset * 4) for \(operation)"
        }
        return nil
    }

    private func apply(_ operation: CollectiveSchedule.Operation, _ held: HeldMessage) throws {
        if let problem = Self.shapeProblem(operation, held) {
            throw RuntimeError(.protocolViolation, "rank \(plane.rank): \(problem)")
        }
        let range = operation.range
        let format = WireCodec.Format(rawValue: held.header.dtype.rawValue)!
        guard range.count > 0 else { return }
        let target = buffer + range.offset * 4
        if format != .float32 {
            held.decodePayload(
                format, count: range.count, into: target,
                accumulate: operation.kind != .receiveCopy(peer: operation.kind.peer))
        } else if case .receiveReduce = operation.kind {
            held.reducePayload(into: target, count: range.count)
        } else {
            held.copyPayload(into: target)
        }
    }
}
