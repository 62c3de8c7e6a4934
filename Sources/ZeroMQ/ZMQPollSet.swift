import CZeroMQ
import Glibc

/// Waits for any of many sockets to become readable (`zmq_poll`), for a thread that serves many
/// peers at once, such as the control-plane load test's synthetic members. A socket added must
/// outlive the set (the set keeps its handle, not the socket).
public final class ZMQPollSet {
    private var items: [zmq_pollitem_t] = []

    public init() {}

    public var count: Int { items.count }

    /// Adds a socket; returns its index in the set.
    public func add(_ socket: borrowing ZMQSocket) -> Int {
        items.append(zmq_pollitem_t(socket: socket.handle, fd: -1, events: Int16(ZMQ_POLLIN), revents: 0))
        return items.count - 1
    }

    /// The indices of the sockets with a message to read, waiting up to `timeout` for one.
    public func readable(timeout: Duration) throws(ZMQError) -> [Int] {
        let milliseconds = max(
            0, Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        let ready = try zmqCall("zmq_poll", "\(items.count) sockets") {
            zmq_poll(&items, Int32(items.count), milliseconds)
        }
        guard ready > 0 else { return [] }
        return items.indices.filter { items[$0].revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
