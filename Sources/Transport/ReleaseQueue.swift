import Synchronization
import ZeroMQ

/// Where libzmq's I/O thread reports that it has let go of a zero-copy send: the operation id
/// is queued and the device thread's doorbell rings, so the schedule can reuse that range.
public final class ReleaseQueue: Sendable {
    private let released = Mutex<[Int]>([])
    public let doorbell: ZMQDoorbell

    public init() throws(ZMQError) {
        doorbell = try ZMQDoorbell()
    }

    public func push(_ operation: Int) {
        released.withLock { $0.append(operation) }
        doorbell.ring()
    }

    public func drain() -> [Int] {
        released.withLock { list in
            defer { list.removeAll(keepingCapacity: true) }
            return list
        }
    }
}
