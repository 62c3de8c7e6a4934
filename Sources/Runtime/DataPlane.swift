import ZeroMQ

/// One rank's data-plane sockets: a PULL socket that every peer sends to, and a PUSH socket
/// connected to each peer it sends to. Sends are zero-copy from the rank's buffer, with no
/// high-water mark (a queued zero-copy message costs no copy of its payload), so a send never
/// blocks the device thread; the release of each send comes back through `releases`.
public final class DataPlane: @unchecked Sendable {
    // Unchecked Sendable: made on, and used only by, the device thread that owns the rank.
    public let rank: Int
    let inbox: SocketBox
    var outboxes: [Int: SocketBox] = [:]
    let releases: ReleaseQueue
    /// Messages of later collectives that arrived while an earlier one was running (a peer that
    /// finished first may start the next collective at once), by collective id.
    var early: [UInt64: [HeldMessage]] = [:]
    /// Endpoints the inbox is bound to (a transport endpoint, and inproc for same-worker peers).
    public private(set) var endpoints: [String] = []

    /// Binds the inbox to each of `endpoints` (tcp `*` ports are filled in).
    public init(rank: Int, bind endpoints: [String], context: ZMQContext = .shared) throws {
        self.rank = rank
        var pull = try ZMQSocket(.pull, context: context, linger: .zero)
        try pull.setReceiveHighWaterMark(0)
        for endpoint in endpoints {
            self.endpoints.append(try pull.bind(endpoint))
        }
        inbox = SocketBox(pull)
        releases = try ReleaseQueue()
    }

    /// Connects a PUSH socket to `peer` at `endpoint`.
    public func connect(peer: Int, endpoint: String, context: ZMQContext = .shared) throws {
        guard outboxes[peer] == nil else { return }
        var push = try ZMQSocket(.push, context: context, linger: .seconds(2))
        try push.setSendHighWaterMark(0)
        try push.connect(endpoint)
        outboxes[peer] = SocketBox(push)
    }

    func outbox(_ peer: Int) throws -> SocketBox {
        guard let box = outboxes[peer] else {
            throw RuntimeError("rank \(rank): no data connection to rank \(peer) (connected: \(outboxes.keys.sorted()))")
        }
        return box
    }
}
