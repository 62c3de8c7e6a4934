import CStraitsShims
import Glibc

/// A doorbell (an eventfd) that another thread rings to wake a thread blocked in
/// `ZMQSocket.blockingReceive(timeout:wakingOn:)`: a zero-copy release, a shutdown request.
/// Ringing is async-signal-safe and never blocks; rings before the wait are not lost.
public final class ZMQDoorbell: Sendable {
    let fd: Int32

    public init() throws(ZMQError) {
        let fd = straits_eventfd_create()
        guard fd >= 0 else { throw ZMQError(errno: straits_errno(), operation: "eventfd", detail: "doorbell") }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Wakes the waiter (or the next wait, if none is waiting now).
    public func ring() {
        _ = straits_eventfd_signal(fd)
    }

    /// Clears pending rings; returns how many there were.
    @discardableResult
    public func drain() -> UInt64 {
        straits_eventfd_drain(fd)
    }
}
