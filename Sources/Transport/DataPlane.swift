import CStraitsShims
import Emulation
import Foundation
import Logging
import StraitsWire
import Synchronization
import ZeroMQ

/// Announces to a worker's ranks that a new membership epoch supersedes the one they run.
public final class EpochGate: Sendable {
    private let raised = Atomic<Bool>(false)

    public init() {}

    public var isRaised: Bool { raised.load(ordering: .acquiring) }

    /// Raises the gate (the control thread; it then rings each waiting rank's doorbell).
    public func raise() { raised.store(true, ordering: .releasing) }

    /// Lowers it once every rank has given up the old epoch's work (devices idle).
    public func lower() { raised.store(false, ordering: .releasing) }
}

/// One rank's data-plane sockets: a PULL socket that every peer sends to, and a PUSH socket
/// connected to each peer it sends to. Sends are zero-copy from the rank's buffer, with no
/// high-water mark (a queued zero-copy message costs no copy of its payload), so a send never
/// blocks the device thread; the release of each send comes back through `releases`.
public final class DataPlane: @unchecked Sendable {
    // Unchecked Sendable: made on, and used only by, the device thread that owns the rank.
    /// This rank's number; a cluster worker binds its planes before the plan gives ranks out,
    /// and the device thread sets it when the plan arrives.
    public var rank: Int
    public let inbox: SocketBox
    public var outboxes: [Int: SocketBox] = [:]
    public let releases: ReleaseQueue
    /// Messages of later collectives that arrived while an earlier one was running (a peer that
    /// finished first may start the next collective at once), by collective id.
    public private(set) var early: [UInt64: [HeldMessage]] = [:]
    /// Messages and payload bytes in `early`: bounded, so that a peer cannot make the rank hold
    /// more than `earlyLimit` however far ahead it runs (or claims to).
    public private(set) var earlyCount = 0
    public private(set) var earlyBytes = 0
    /// The most `early` may hold: messages and payload bytes.
    public var earlyLimit = (messages: 65_536, bytes: 1 << 30)

    /// Keeps a message of a later collective; false (and nothing kept) when that would exceed
    /// `earlyLimit`.
    public func keepEarly(_ held: HeldMessage) -> Bool {
        let size = held.payloadSize
        guard earlyCount < earlyLimit.messages, earlyBytes + size <= earlyLimit.bytes else { return false }
        early[held.header.collectiveID, default: []].append(held)
        earlyCount += 1
        earlyBytes += size
        return true
    }

    /// Takes the messages kept for `collective`.
    public func takeEarly(_ collective: UInt64) -> [HeldMessage] {
        let taken = early.removeValue(forKey: collective) ?? []
        earlyCount -= taken.count
        earlyBytes -= taken.reduce(0) { $0 + $1.payloadSize }
        return taken
    }

    /// Drops what was kept for collectives before `collective`, which can no longer run here;
    /// returns how many messages.
    public func dropEarly(before collective: UInt64) -> Int {
        var dropped = 0
        for key in early.keys where key < collective { dropped += takeEarly(key).count }
        return dropped
    }
    /// Messages a gateway sent on before they arrive (`HeldMessage.arrivesAt`), by arrival
    /// time: the rank takes each only once it has arrived. Bounded as the early store is, by
    /// its own count of `earlyLimit`: a gateway, or one posing as it, cannot make the rank hold
    /// more however far ahead it says they arrive.
    public private(set) var holding: [HeldMessage] = []
    public private(set) var holdingBytes = 0

    /// Holds a message until its arrival time; false (and nothing held) when that would exceed
    /// `earlyLimit`.
    public func hold(_ held: HeldMessage) -> Bool {
        let size = held.payloadSize
        guard holding.count < earlyLimit.messages, holdingBytes + size <= earlyLimit.bytes else { return false }
        let arrivesAt = held.arrivesAt ?? 0
        let index = holding.firstIndex { ($0.arrivesAt ?? 0) > arrivesAt } ?? holding.count
        holding.insert(held, at: index)
        holdingBytes += size
        return true
    }

    /// Takes the held message due first.
    public func takeFirstHeld() -> HeldMessage {
        let held = holding.removeFirst()
        holdingBytes -= held.payloadSize
        return held
    }
    /// How the rank waits for a held message to arrive: woken shortly before its arrival by the
    /// doorbell's timer (as early as the timer's recent overshoots say it must be) and spinning on
    /// the clock for the rest, or (`approachesArrivals` false) woken by the timer at the arrival
    /// itself. The window is kept while the rank does not approach, for the steps it does.
    public var approach = OvershootWindow()
    /// Arrivals the rank spun for, and the nanoseconds it spun.
    public private(set) var approached = 0
    public private(set) var spunNanoseconds: Int64 = 0
    /// Bytes sent to and received from each peer (header and payload), readable from any thread.
    public let traffic = TrafficCounters()
    /// Whether sends carry a CRC32C of their payload (receivers check any frame that has one).
    public var checksums = false
    /// The membership epoch of the plan the rank runs: sent in every header, and a message of
    /// another epoch is refused (0 until a plan sets it, as the bench launcher's ranks run).
    public var epoch: UInt32 = 0
    /// Malformed or corrupt messages dropped so far.
    public private(set) var rejected = 0
    /// Messages of a membership epoch given up, dropped so far.
    public private(set) var stale = 0
    /// Raised by the worker's control thread when a new membership epoch supersedes the one
    /// the rank runs: the collective in flight gives up at its next turn (`checkSuperseded`).
    /// One gate for all of a worker's ranks (set before their threads start), so that a rank
    /// that sees another give up finds its own gate raised too.
    public var gate = EpochGate()

    /// Whether a new epoch was announced that the rank has not entered.
    public var isSuperseded: Bool { gate.isRaised }

    /// Throws `superseded` once a new epoch was announced and the rank has not entered it.
    public func checkSuperseded() throws {
        guard gate.isRaised else { return }
        throw RuntimeError(.superseded, "rank \(rank): membership epoch \(epoch) was superseded")
    }

    public func dropStale() { stale += 1 }

    /// Moves the rank to a new membership epoch (its device thread, idle): what it kept of
    /// earlier epochs and every connection go (ranks are numbered anew), sends of the given-up
    /// collectives no longer complete anything, and collectives run again.
    public func enter(epoch: UInt32) {
        self.epoch = epoch
        for (collective, messages) in early {
            let kept = messages.filter { $0.header.epoch >= epoch }
            guard kept.count != messages.count else { continue }
            earlyCount -= messages.count - kept.count
            earlyBytes -= messages.filter { $0.header.epoch < epoch }.reduce(0) { $0 + $1.payloadSize }
            early[collective] = kept.isEmpty ? nil : kept
        }
        holding.removeAll { $0.header.epoch < epoch }
        holdingBytes = holding.reduce(0) { $0 + $1.payloadSize }
        outboxes = [:]
        releases.advance()
    }
    /// Endpoints the inbox is bound to (a transport endpoint, and inproc for same-worker peers).
    public private(set) var endpoints: [String] = []

    /// The largest message part an inbox takes: a data frame's largest payload, and room for its
    /// header. libzmq drops the connection of a peer that sends a larger part, before the rank
    /// sees it. Fixed, because libzmq takes a listener's limits when it binds, before the plan.
    public static let maximumPartBytes = DataFrameHeader.maximumPayloadBytes + (64 << 10)
    /// Messages an inbox queues per connection while the rank does not read (`ZMQ_RCVHWM`):
    /// beyond them libzmq stops reading that connection, and its sender's queue grows instead.
    /// Each holds at most a header and a payload from an honest peer, so this bounds what a
    /// connection can make the rank hold to about 32 × 16 MiB.
    public static let receiveQueueMessages = 32

    /// Binds the inbox to each of `endpoints` (tcp `*` ports are filled in), with the part and
    /// queue limits above.
    public init(rank: Int, bind endpoints: [String], context: ZMQContext = .shared) throws {
        self.rank = rank
        var pull = try ZMQSocket(.pull, context: context, linger: .zero)
        try LinkSecurity.server(&pull)
        try pull.setReceiveHighWaterMark(Self.receiveQueueMessages)
        try pull.setMaximumMessageSize(Self.maximumPartBytes)
        for endpoint in endpoints {
            self.endpoints.append(try pull.bind(endpoint))
        }
        inbox = SocketBox(pull)
        releases = try ReleaseQueue()
    }

    /// An ipc endpoint's socket file outlives the socket unless removed: remove it (a bound
    /// socket goes on working; nothing new can connect).
    deinit {
        removeSocketFiles()
    }

    /// Removes the socket files of the inbox's ipc endpoints (see `deinit`).
    public func removeSocketFiles() {
        for endpoint in endpoints { DataTransport.removeSocketFile(of: endpoint) }
    }

    /// Connects a PUSH socket to `peer` at `endpoint`. With `routedTo`, the endpoint is a
    /// gateway's ingress, and each message carries a route frame naming that rank.
    public func connect(peer: Int, endpoint: String, routedTo destination: Int? = nil, context: ZMQContext = .shared)
        throws
    {
        guard outboxes[peer] == nil else { return }
        var push = try ZMQSocket(.push, context: context, linger: .seconds(2))
        try LinkSecurity.client(&push)
        try push.setSendHighWaterMark(0)
        try push.connect(endpoint)
        let box = SocketBox(push)
        box.route = destination
        box.inproc = endpoint.hasPrefix("inproc://")
        outboxes[peer] = box
    }

    /// Runs `body` with messages to `peer` going straight to `endpoint` (no gateway, no route
    /// frame), then puts the usual connection back.
    public func withDirectConnection<T>(
        peer: Int, endpoint: String, context: ZMQContext = .shared, _ body: () throws -> T
    ) throws -> T {
        let usual = outboxes.removeValue(forKey: peer)
        defer { outboxes[peer] = usual }
        try connect(peer: peer, endpoint: endpoint, context: context)
        return try body()
    }

    /// Whether the rank approaches a held message's arrival (see `approach`); on by default.
    /// A worker may change it from step to step (`WorkerOptions.ArrivalWait.auto`).
    public var approachesArrivals = true

    /// How early the rank now wakes for an arrival, nanoseconds (0: it does not approach).
    public var approachEarly: Int64 { approachesArrivals ? approach.early : 0 }

    /// Moves the device thread to real-time priority while it waits (see `ScheduleExecutor`), so
    /// that its wake-up does not wait for whatever else holds the core; below the gateways'
    /// delivery threads, and it spins at most 300 µs at it. False where the process may not
    /// (then it stays at normal priority).
    public func raiseForWait() -> Bool {
        guard !realtimeRefused else { return false }
        if straits_set_realtime(Self.waitPriority) == 0 { return true }
        realtimeRefused = true
        return false
    }

    /// Back to normal priority, to work.
    public func lowerAfterWait() {
        _ = straits_set_normal_priority()
    }

    /// SCHED_FIFO priority of a waiting rank: below the gateways' delivery threads (30).
    public static let waitPriority: Int32 = 20
    private var realtimeRefused = false

    public func spun(_ nanoseconds: Int64) {
        approached += 1
        spunNanoseconds += nanoseconds
    }

    /// Counts a dropped message and says why on standard error (the first 20, then every 1000th).
    public func reject(_ reason: String) {
        rejected += 1
        if ControlLink.isLogged(rejected) {
            Logger(label: "straits").warning("rank \(rank): dropped a data message (\(rejected) so far): \(reason)")
        }
    }

    public func outbox(_ peer: Int) throws -> SocketBox {
        guard let box = outboxes[peer] else {
            throw RuntimeError(
                .outOfOrder, "rank \(rank): no data connection to rank \(peer) (connected: \(outboxes.keys.sorted()))")
        }
        return box
    }
}
