/// One directed WAN link as a pure state machine over a clock it is given (nanoseconds): a
/// serialiser that sends at the link's bandwidth, then a delay line of the link's latency ± jitter.
///
/// Messages are cut into chunks (the part left over first); the serialiser takes the next
/// chunk from the queued flow that has been served the fewest bytes (a flow that comes back
/// from idle starts level with the others, so it can't bank credit), so concurrent flows share
/// the bandwidth evenly in bytes whatever their message sizes, and pacing is byte-accurate: a
/// chunk of `b` bytes starts when the previous one ends and takes `8b / bandwidth`. A chunk
/// arrives `latency ± jitter` after its last byte left, never before an earlier chunk of its
/// flow; a message is delivered when its last chunk arrives. The queue is bounded in bytes:
/// `canAccept` says whether the owner may offer more.
///
/// With a bucket (`LinkSpec.burstBytes`) the serialiser may run up to a bucket's time behind
/// the clock, as a token bucket's tokens let it: a chunk leaves when the line would have ended
/// it, or when it was offered if that is later.
///
/// No I/O and no clock of its own: the gateway calls `offer` and `advance(to:)` with the real
/// time, tests with a manual one, and both get exactly the same deliveries.
///
/// With a `hop`, the link is cut-through at its ends, as a router is: see `Hop`.
public struct LinkModel: Sendable {
    /// What the emulator's own hops around the link cost a message: the trip from its sender
    /// to the gateway, and from the gateway to its receiver, `alpha + bytes · perByte` each.
    ///
    /// A router forwards packets as they come, so a real path adds one packet's
    /// store-and-forward, not a whole message's; a gateway receives and sends whole messages.
    /// So a message offered at `now` is serialised from when its first byte came (one α after
    /// its sender sent it, where the gateway knows when that was; else one hop before `now`;
    /// never before the link is free), and it is released one hop before its last byte
    /// reaches the far end (never before it was offered, or before an earlier message of its
    /// flow), so that the hop out lands it on time. The hop is what an uncontended hop costs: a
    /// slower hop makes the message later, never earlier, than the link.
    ///
    /// A release must not come before the link has settled when the message arrives, and
    /// another flow's chunk could still come between two of its chunks. So where the chunks
    /// left after one, with the latency, take less than the hop, the link commits the message's
    /// tail when it starts that one: the tail goes on the wire back to back, as packets already
    /// in a NIC's transmit ring do, so its arrival is known one hop ahead. Another flow waits at
    /// most one hop's time longer for it.
    public struct Hop: Sendable, Equatable {
        public var alphaNanoseconds: Int64
        public var nanosecondsPerByte: Double

        public init(alphaNanoseconds: Int64, nanosecondsPerByte: Double) {
            precondition(alphaNanoseconds >= 0 && nanosecondsPerByte >= 0)
            self.alphaNanoseconds = alphaNanoseconds
            self.nanosecondsPerByte = nanosecondsPerByte
        }

        /// Store-and-forward: no allowance for the hops.
        public static let none = Hop(alphaNanoseconds: 0, nanosecondsPerByte: 0)

        public func nanoseconds(_ bytes: Int) -> Int64 {
            alphaNanoseconds + Int64((Double(bytes) * nanosecondsPerByte).rounded(.down))
        }
    }

    /// A message that has reached the far end.
    public struct Delivery: Sendable, Equatable {
        public let message: Int
        public let flow: Int
        public let bytes: Int
        /// When it was offered (less the hop in).
        public let offeredAt: Int64
        /// When it leaves for its receiver: when its last chunk reaches the far end, less the
        /// hop out (or, where the receiver holds it, as soon as that time is settled).
        public let dueAt: Int64
        /// When its last chunk reaches the far end.
        public let arrivesAt: Int64
        /// Time its first chunk waited for the serialiser.
        public let queueDelay: Int64
    }

    /// Totals since the link was made.
    public struct Counters: Sendable, Equatable {
        public var offeredBytes = 0
        public var offeredMessages = 0
        public var deliveredBytes = 0
        public var deliveredMessages = 0
        /// Sum and maximum of the queueing delay of delivered messages, nanoseconds.
        public var queueDelaySum: Int64 = 0
        public var queueDelayMax: Int64 = 0
        /// Nanoseconds the serialiser was busy.
        public var busy: Int64 = 0
    }

    private struct Chunk {
        let message: Int
        let bytes: Int
        let last: Bool
        let offeredAt: Int64
        /// Nanoseconds the message's chunks after this one take on the wire.
        let after: Int64
    }

    private struct Pending {
        let flow: Int
        let bytes: Int
        let offeredAt: Int64
        let receivedAt: Int64
        let hop: Int64
        var firstStart: Int64?
        var dueAt: Int64?
        var arrivesAt: Int64?
    }

    /// The link as it is now: a fault may change its bandwidth and latency (`degrade`), which
    /// applies to chunks that start from then on.
    public private(set) var spec: LinkSpec
    /// Whether the link is dark (a fault): no chunk starts, offers queue to the queue's bound
    /// and push back; what is already on the wire arrives, and a committed tail (see `Hop`)
    /// still goes on, since its receiver was told when it arrives.
    public private(set) var down = false
    public let chunkBytes: Int
    public let queueLimitBytes: Int
    /// The hops around the link (none: store-and-forward); applies to messages offered after it is set.
    public var hop: Hop = .none
    /// Whether the receiver holds a message until it arrives: then a message is released as soon
    /// as its arrival is settled, with the time it arrives (`Delivery.arrivesAt`).
    public var receiverHolds = false
    public private(set) var counters = Counters()
    /// Bytes offered and not yet on the wire.
    public private(set) var queuedBytes = 0

    private var queues: [Int: [Chunk]] = [:]
    private var queueHeads: [Int: Int] = [:]
    /// Bytes each flow has had serialised, for byte-fair choice between flows.
    private var served: [Int: Int] = [:]
    private var serialiserFreeAt: Int64 = .min
    private var lastDue: [Int: Int64] = [:]
    private var lastRelease: [Int: Int64] = [:]
    private var pending: [Int: Pending] = [:]
    /// The flow whose message's tail is committed (see `Hop`), and when its commitment began.
    private var committed: (flow: Int, since: Int64)?
    /// Messages whose last chunk is on the wire, by due time.
    private var scheduled: [(due: Int64, message: Int)] = []
    private var random: SplitMix64

    public init(spec: LinkSpec, chunkBytes: Int = 64 << 10, queueLimitBytes: Int = 64 << 20, seed: UInt64 = 1) {
        precondition(chunkBytes > 0 && queueLimitBytes > 0)
        self.spec = spec
        self.chunkBytes = chunkBytes
        self.queueLimitBytes = queueLimitBytes
        random = SplitMix64(seed: seed)
    }

    /// Takes the link down at `now`, or brings it back up: chunks start again at once.
    public mutating func setDown(_ down: Bool, now: Int64) {
        if self.down && !down { serialiserFreeAt = max(serialiserFreeAt, now) }
        self.down = down
    }

    /// Runs the link at `spec` from now on (a degradation, or its end): chunks that start
    /// from now on take its bandwidth and latency.
    public mutating func setSpec(_ spec: LinkSpec) {
        self.spec = spec
    }

    /// Whether the queue has room for another message (one message may overfill it).
    public var canAccept: Bool { queuedBytes < queueLimitBytes }

    /// Queues message `message` of `bytes` bytes from `flow`, received whole at `now`; `sentAt`,
    /// when known, is when its sender sent it, on the same clock.
    public mutating func offer(message: Int, flow: Int, bytes: Int, now received: Int64, sentAt: Int64? = nil) {
        precondition(pending[message] == nil, "message \(message) offered twice")
        let hopNanoseconds = hop.nanoseconds(bytes)
        // Its first byte came one hop's α after it was sent, if that is known, else one hop
        // before its last (and never after its last).
        let now =
            hop == .none
            ? received
            : sentAt.map { min($0 + hop.alphaNanoseconds, received) } ?? received - hopNanoseconds
        // An idle serialiser starts the new message now (or as far back as a full bucket
        // reaches); a busy one keeps its own time.
        if queues.isEmpty { serialiserFreeAt = max(serialiserFreeAt, now - spec.burstNanoseconds) }
        pending[message] = Pending(flow: flow, bytes: bytes, offeredAt: now, receivedAt: received, hop: hopNanoseconds)
        counters.offeredBytes += bytes
        counters.offeredMessages += 1
        queuedBytes += bytes
        // Whole chunks, the part left over first: a message's last chunk is then a whole one, so
        // a commitment (see `Hop`), made a whole number of chunks before the end, starts as late as it can.
        var chunks: [Chunk] = []
        var left = bytes
        let wholeChunk = spec.serialisationNanoseconds(chunkBytes)
        repeat {
            let size = left % chunkBytes == 0 ? min(left, chunkBytes) : left % chunkBytes
            left -= size
            chunks.append(
                Chunk(
                    message: message, bytes: size, last: left == 0, offeredAt: now,
                    after: Int64(left / chunkBytes) * wholeChunk))
        } while left > 0
        if queues[flow] == nil || queueHeads[flow] == queues[flow]?.count {
            // Back from idle: level with the least-served active flow.
            let level = queues.keys.compactMap { served[$0] }.min() ?? served.values.max() ?? 0
            served[flow] = max(served[flow] ?? 0, level)
            queues[flow] = chunks
            queueHeads[flow] = 0
        } else {
            queues[flow]!.append(contentsOf: chunks)
        }
    }

    /// Moves the link on to `now`: starts every chunk whose turn has come, and returns the
    /// messages that have arrived by `now`, in arrival order.
    public mutating func advance(to now: Int64) -> [Delivery] {
        let burst = spec.burstNanoseconds
        let shortestLatency = Int64(((spec.latencySeconds - spec.jitterSeconds) * 1e9).rounded(.down))
        while let flow = committed?.flow ?? (!down && serialiserFreeAt <= now ? nextFlow() : nil) {
            let head = queueHeads[flow]!
            let chunk = queues[flow]![head]
            queueHeads[flow] = head + 1
            if head + 1 == queues[flow]!.count {
                queues[flow] = nil
                queueHeads[flow] = nil
            }
            // A chunk never leaves before it was offered (offers may come in ahead of the clock),
            // less what the bucket lets through at once. A committed tail goes straight on.
            let start = max(serialiserFreeAt, chunk.offeredAt - burst)
            if start > now && committed == nil {
                // Put it back: its time has not come.
                queueHeads[flow] = head
                if queues[flow] == nil {
                    queues[flow] = [chunk]
                    queueHeads[flow] = 0
                }
                serialiserFreeAt = start
                break
            }
            served[flow, default: 0] += chunk.bytes
            let end = start + spec.serialisationNanoseconds(chunk.bytes)
            serialiserFreeAt = end
            counters.busy += end - start
            queuedBytes -= chunk.bytes
            if pending[chunk.message]?.firstStart == nil { pending[chunk.message]?.firstStart = start }
            let jitter =
                spec.jitterSeconds > 0 ? Int64(((random.nextUnit() * 2 - 1) * spec.jitterSeconds * 1e9).rounded()) : 0
            var due = max(end, chunk.offeredAt) + Int64((spec.latencySeconds * 1e9).rounded()) + jitter
            due = max(due, end, lastDue[flow] ?? .min)
            lastDue[flow] = due
            let hop = pending[chunk.message]!.hop
            if committed == nil && !chunk.last && chunk.after + shortestLatency < hop {
                // What is left would arrive within one hop: commit it (see `Hop`).
                committed = (flow, start)
            }
            if chunk.last {
                let message = pending[chunk.message]!
                let settled = committed?.since ?? start
                committed = nil
                let release = max(
                    receiverHolds ? settled : due - message.hop, settled, message.receivedAt, lastRelease[flow] ?? .min)
                lastRelease[flow] = release
                pending[chunk.message]?.dueAt = release
                pending[chunk.message]?.arrivesAt = due
                let index = scheduled.firstIndex { $0.due > release } ?? scheduled.count
                scheduled.insert((release, chunk.message), at: index)
            }
        }
        var delivered: [Delivery] = []
        while let first = scheduled.first, first.due <= now {
            scheduled.removeFirst()
            let message = pending.removeValue(forKey: first.message)!
            let queueDelay = (message.firstStart ?? message.offeredAt) - message.offeredAt
            counters.deliveredBytes += message.bytes
            counters.deliveredMessages += 1
            // Saturating: a counter must not trap however long a simulated run queues.
            counters.queueDelaySum =
                counters.queueDelaySum.addingReportingOverflow(queueDelay).overflow
                ? .max : counters.queueDelaySum + queueDelay
            counters.queueDelayMax = max(counters.queueDelayMax, queueDelay)
            delivered.append(
                Delivery(
                    message: first.message, flow: message.flow, bytes: message.bytes,
                    offeredAt: message.offeredAt, dueAt: first.due, arrivesAt: message.arrivesAt!,
                    queueDelay: queueDelay))
        }
        return delivered
    }

    /// When the next chunk may start (the serialiser is free and a chunk is queued; never while
    /// the link is down, but for a committed tail).
    public var nextChunkStart: Int64? { queues.isEmpty || (down && committed == nil) ? nil : serialiserFreeAt }

    /// When the next message arrives at the far end.
    public var nextDelivery: Int64? { scheduled.first?.due }

    /// When something next happens (a chunk starts or a message arrives); nil when idle.
    public var nextEvent: Int64? {
        let start = nextChunkStart
        switch (start, scheduled.first?.due) {
        case (let a?, let b?): return min(a, b)
        case (let a?, nil): return a
        case (nil, let b?): return b
        case (nil, nil): return nil
        }
    }

    /// Messages offered and not yet delivered.
    public var inFlightMessages: Int { pending.count }

    /// The queued flow served the fewest bytes so far (ties: the lowest flow id).
    private mutating func nextFlow() -> Int? {
        var best: (flow: Int, served: Int)?
        for flow in queues.keys {
            let bytes = served[flow] ?? 0
            if best == nil || bytes < best!.served || (bytes == best!.served && flow < best!.flow) {
                best = (flow, bytes)
            }
        }
        return best?.flow
    }
}

/// A small, seeded, fast generator (SplitMix64), so jitter is reproducible.
public struct SplitMix64: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
