/// A gateway's timing policy: its outbound links (one `LinkModel` per destination region), what
/// is due to go on at a moment, when to wake next, and whether to keep the CPUs from halting.
/// It does no I/O and reads no clock; the gateway's delivery threads call `onWake(now:early:)`
/// under their shared lock and carry out what it returns.
///
/// A thread sleeps until the next chunk start (whose time the model keeps exactly, so a late
/// wake-up there costs nothing) or until shortly before the next delivery, then spins for the
/// rest. Releases to receivers that hold messages until they arrive are slept to directly too:
/// a release comes before the arrival by the link's latency at least. A delivery is approached
/// by halves (`OvershootWindow.approach`): a timer wakes a core that went idle later the longer
/// it slept, so only the last sleep aims at the delivery less `early`.
public struct DeliveryScheduler: Sendable {
    /// A message whose time has come: send it on now.
    public struct Due: Equatable, Sendable {
        /// The destination region (which link released it).
        public var destination: Int
        /// The message's id, as it was offered.
        public var message: Int
        /// When the link released it (monotonic nanoseconds).
        public var dueAt: Int64
        /// When it arrives at the far end.
        public var arrivesAt: Int64
    }

    /// What a delivery thread does after sending `due` on.
    public enum Next: Equatable, Sendable {
        /// Sleep until this time, or until an offer wakes it (nil: nothing is scheduled).
        /// `final`: the last sleep of an approach to a delivery, whose overshoot the thread records.
        case sleep(until: Int64?, final: Bool)
        /// Spin on the clock until this time (within `early` of a delivery).
        case spin(until: Int64)
    }

    public struct Wake: Equatable, Sendable {
        public var due: [Due]
        /// A link that was full can take messages again: wake the ingresses.
        public var freed: Bool
        /// Traffic is in flight or receivers hold messages: keep idle CPUs polling.
        public var keepCPUsAwake: Bool
        /// When `due` is empty: what to do until the next event. Nil when something is due
        /// (the thread sends it, then asks again).
        public var next: Next?
    }

    /// How long after a held message's arrival the CPUs are kept awake for its receiver's wake-up.
    public static let holdMargin: Int64 = 2_000_000

    /// The outbound links, by destination region.
    public var links: [Int: LinkModel]
    /// A little after the last message sent on to a receiver that holds it arrives.
    public private(set) var heldUntil: Int64 = .min

    public init(links: [Int: LinkModel] = [:]) {
        self.links = links
    }

    /// Whether the link to `destination` can take another message.
    public func canAccept(_ destination: Int) -> Bool { links[destination]?.canAccept ?? false }

    /// A message from `flow` enters the link to `destination`.
    public mutating func offer(
        message: Int, to destination: Int, flow: Int, bytes: Int, now: Int64, sentAt: Int64?
    ) {
        links[destination]?.offer(message: message, flow: flow, bytes: bytes, now: now, sentAt: sentAt)
    }

    /// Advances every link to `now`: what is due, and what to do next. `early` is how long
    /// before a delivery the thread must wake to be on time (`OvershootWindow.early`).
    public mutating func onWake(now: Int64, early: Int64) -> Wake {
        var due: [Due] = []
        var freed = false
        var nextStart: Int64?
        var nextDelivery: Int64?
        var nextRelease: Int64?
        for destination in links.keys.sorted() {
            let wasFull = !links[destination]!.canAccept
            let holds = links[destination]!.receiverHolds
            for delivery in links[destination]!.advance(to: now) {
                due.append(
                    Due(
                        destination: destination, message: delivery.message, dueAt: delivery.dueAt,
                        arrivesAt: delivery.arrivesAt))
                if holds { heldUntil = max(heldUntil, delivery.arrivesAt + Self.holdMargin) }
            }
            if wasFull && links[destination]!.canAccept { freed = true }
            if let start = links[destination]!.nextChunkStart { nextStart = min(nextStart ?? start, start) }
            if let arrival = links[destination]!.nextDelivery {
                if holds {
                    nextRelease = min(nextRelease ?? arrival, arrival)
                } else {
                    nextDelivery = min(nextDelivery ?? arrival, arrival)
                }
            }
        }
        let receiversHolding = heldUntil > now
        let keepAwake =
            !due.isEmpty || nextStart != nil || nextDelivery != nil || nextRelease != nil || receiversHolding
        guard due.isEmpty else { return Wake(due: due, freed: freed, keepCPUsAwake: keepAwake, next: nil) }

        var wake: Int64?
        var final = false
        let direct = [nextStart, nextRelease, receiversHolding ? heldUntil : nil].compactMap { $0 }.min()
        let deliveryWake = nextDelivery.map { $0 - early }
        if let direct, deliveryWake.map({ direct <= $0 }) ?? true {
            wake = direct
        } else if let target = deliveryWake {
            (wake, final) = OvershootWindow.approach(from: now, to: target)
        }
        let next: Next
        if let wake, wake <= now, let nextDelivery {
            // Within `early` of a delivery: spin, never longer than `early` (a real-time thread
            // must not hold a core for long).
            next = .spin(until: min(nextDelivery, now + early))
        } else if let wake, wake <= now {
            next = .sleep(until: now, final: false)
        } else {
            next = .sleep(until: wake, final: final)
        }
        return Wake(due: [], freed: freed, keepCPUsAwake: keepAwake, next: next)
    }
}
