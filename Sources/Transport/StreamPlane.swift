import CStraitsShims
import Foundation
import Logging
import StraitsWire

/// One rank's data plane over TCP driven by the rank's own thread: a listener that peers
/// connect their PUSH to, and a connection to each peer's listener, all speaking ZMTP (`ZMTP`),
/// so a libzmq PULL or PUSH socket talks to it. No I/O thread stands between the rank and its
/// sockets: a message costs no thread hand-off, only the system calls that move its bytes, and a
/// rank that waits polls its sockets for `spin` before it sleeps in `ppoll`. Open MPI's TCP
/// transport works the same way.
///
/// Messages from any connection are checked like every socket's bytes; a connection that breaks
/// the protocol is closed with a reason (`reject`), and the others go on.
public final class StreamPlane: FragmentPlane, @unchecked Sendable {
    // Unchecked Sendable: made on, and used only by, the device thread that owns the rank.
    public let rank: Int
    /// The endpoint peers connect to: `tcp://ADDRESS:PORT`.
    public let endpoint: String
    private let listener: Int32
    private var outgoing: [Int: StreamConnection] = [:]
    private var incoming: [StreamConnection] = []
    public var epoch: UInt32 = 0
    public var spin: Duration = .milliseconds(2)
    public var yieldsWhileSpinning = false
    public let early = EarlyStore()
    /// The most connections the listener keeps at once; a further one is closed at once.
    public var maximumIncoming = 256
    public private(set) var rejected = 0
    /// Turns of `poll` so far.
    private var polls = 0

    /// Listens on `address` (numeric IPv4 or IPv6), on a port the kernel picks.
    public init(rank: Int, address: String = "127.0.0.1") throws {
        self.rank = rank
        var port: Int32 = 0
        let fd = straits_tcp_listen(address, 0, &port)
        guard fd >= 0 else {
            throw RuntimeError(
                .invalidArgument,
                "rank \(rank): cannot listen on \(address): \(String(cString: strerror(straits_errno())))")
        }
        listener = fd
        endpoint = "tcp://" + (address.contains(":") ? "[\(address)]" : address) + ":\(port)"
    }

    deinit { close(listener) }

    /// Connects to `peer`'s listener at `endpoint` (`tcp://HOST:PORT`); the handshake completes
    /// as the rank polls.
    public func connect(peer: Int, endpoint: String, timeout: Duration = .seconds(10)) throws {
        guard outgoing[peer] == nil else { return }
        guard let (host, rest) = DataTransport.host(ofTCP: endpoint), let port = Int32(rest.dropFirst()),
            (1...65535).contains(port)
        else {
            throw RuntimeError(.invalidArgument, "rank \(rank): \"\(endpoint)\" is not tcp://HOST:PORT")
        }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        let fd = straits_tcp_connect(bare, port, Int32(timeout.inSeconds * 1000))
        guard fd >= 0 else {
            throw RuntimeError(
                .peerFailed,
                "rank \(rank): cannot connect to rank \(peer) at \(endpoint): \(String(cString: strerror(straits_errno())))"
            )
        }
        outgoing[peer] = StreamConnection(fd: fd, role: .outgoing, peer: peer)
    }

    public func reject(_ reason: String) {
        rejected += 1
        if ControlLink.isLogged(rejected) {
            Logger(label: "straits").warning("rank \(rank): dropped a data message (\(rejected) so far): \(reason)")
        }
    }

    public func write(to peer: Int, header: DataFrameHeader, payload: UnsafeRawBufferPointer, sent: inout Int) throws
        -> Bool
    {
        guard let connection = outgoing[peer], connection.isOpen else {
            throw RuntimeError(.outOfOrder, "rank \(rank): no data connection to rank \(peer)")
        }
        if !connection.handshaken {
            try handshake(connection)
            guard connection.handshaken else { return false }
        }
        return try connection.write(header: header, payload: payload, sent: &sent)
    }

    /// Writes what is due of an outgoing connection's handshake and reads what came of the
    /// peer's (a PULL peer sends nothing else).
    private func handshake(_ connection: StreamConnection) throws {
        do {
            try connection.writeHandshake()
            _ = try connection.read { _ in }
        } catch {
            connection.close()
            throw RuntimeError(
                .peerFailed, "rank \(rank): the connection to rank \(connection.peer ?? -1) failed", cause: error)
        }
    }

    public func flush() {}

    public func poll(_ deliver: (Fragment) throws -> Void) throws -> Bool {
        // The listener is asked every 32nd turn: a rank that polls while it waits would otherwise
        // make an accept system call beside every read, for connections that come once.
        polls &+= 1
        var progressed = polls % 32 == 1 ? acceptWaiting() : false
        var closed = false
        for connection in incoming where connection.isOpen {
            do {
                if connection.wantsToWrite { try connection.writeHandshake() }
                progressed = try connection.read(deliver) || progressed
            } catch let error as RuntimeError where error.kind == .protocolViolation || error.kind == .peerFailed {
                // Only this connection goes: a stranger's or a broken stream, not the rank.
                reject("closed the connection of rank \(connection.peer.map(String.init) ?? "?"): \(error.description)")
                connection.close()
                closed = true
            }
        }
        if closed { incoming.removeAll { !$0.isOpen } }
        for connection in outgoing.values where !connection.handshaken && connection.isOpen {
            try handshake(connection)
        }
        return progressed
    }

    /// Accepts the connections waiting at the listener; whether there were any.
    private func acceptWaiting() -> Bool {
        var accepted = false
        while true {
            let fd = straits_tcp_accept(listener)
            guard fd >= 0 else { return accepted }
            accepted = true
            guard incoming.count < maximumIncoming else {
                close(fd)
                reject("refused a connection: \(maximumIncoming) are open")
                continue
            }
            incoming.append(StreamConnection(fd: fd, role: .incoming, peer: nil))
        }
    }

    public func sleep(nanoseconds: Int64, unless changed: () throws -> Bool) throws {
        // ppoll is level-triggered: whatever arrives after the last poll ends the sleep at once.
        var fds: [Int32] = [listener]
        var events: [Int16] = [Int16(POLLIN)]
        for connection in incoming where connection.isOpen {
            fds.append(connection.fd)
            events.append(Int16(POLLIN) | (connection.wantsToWrite ? Int16(POLLOUT) : 0))
        }
        for connection in outgoing.values where connection.isOpen {
            fds.append(connection.fd)
            events.append((connection.handshaken ? 0 : Int16(POLLIN)) | (connection.wantsToWrite ? Int16(POLLOUT) : 0))
        }
        var revents = [Int16](repeating: 0, count: fds.count)
        _ = straits_poll(fds, events, &revents, Int32(min(fds.count, 256)), nanoseconds)
        polls = 0  // the first turn after a sleep asks the listener too
    }
}
