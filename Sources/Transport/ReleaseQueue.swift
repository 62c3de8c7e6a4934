import Synchronization
import ZeroMQ

/// Where libzmq's I/O thread reports that it has let go of a zero-copy send: the operation id
/// is queued and the device thread's doorbell rings, so the schedule can reuse that range.
///
/// Releases are counted in generations: a collective given up half-way (a membership change)
/// leaves sends that libzmq lets go of later, and those must not complete an operation of the
/// same id in a later collective. `advance` starts a generation; a release of an earlier one is
/// dropped.
public final class ReleaseQueue: Sendable {
    private let released = Mutex<(generation: Int, operations: [Int])>((0, []))
    public let doorbell: ZMQDoorbell

    public init() throws(ZMQError) {
        doorbell = try ZMQDoorbell()
    }

    /// The generation a send made now belongs to.
    public var generation: Int { released.withLock { $0.generation } }

    public func push(_ operation: Int, generation: Int) {
        let kept = released.withLock { state in
            guard state.generation == generation else { return false }
            state.operations.append(operation)
            return true
        }
        if kept { doorbell.ring() }
    }

    /// Drops what was released so far and every later release of the current generation.
    public func advance() {
        released.withLock { state in
            state.generation += 1
            state.operations.removeAll()
        }
    }

    public func drain() -> [Int] {
        released.withLock { state in
            defer { state.operations.removeAll(keepingCapacity: true) }
            return state.operations
        }
    }
}
