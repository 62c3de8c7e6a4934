import Synchronization
import ZeroMQ

/// Where libzmq's I/O thread reports that it has let go of a zero-copy send: the operation id
/// is queued and the device thread's doorbell rings, so the schedule can reuse that range.
final class ReleaseQueue: Sendable {
    private let released = Mutex<[Int]>([])
    let doorbell: ZMQDoorbell

    init() throws(ZMQError) {
        doorbell = try ZMQDoorbell()
    }

    func push(_ operation: Int) {
        released.withLock { $0.append(operation) }
        doorbell.ring()
    }

    func drain() -> [Int] {
        released.withLock { list in
            defer { list.removeAll(keepingCapacity: true) }
            return list
        }
    }
}
