import CStraitsShims
import Glibc

/// A doorbell (an eventfd) that another thread rings to wake a thread blocked in
/// `ZMQSocket.blockingReceive(timeout:wakingOn:)`: a zero-copy release, a shutdown request.
/// Ringing is async-signal-safe and never blocks; rings before the wait are not lost. The thread
/// that waits on it may also set it to ring at a time (`ring(at:)`): a timerfd, which fires with
/// no timer slack, where a `ppoll` timeout may end up to 0.1% of its length late.
public final class ZMQDoorbell: Sendable {
    let fd: Int32
    let timer: Int32

    public init() throws(ZMQError) {
        let fd = straits_eventfd_create()
        guard fd >= 0 else { throw ZMQError(errno: straits_errno(), operation: "eventfd", detail: "doorbell") }
        let timer = straits_timerfd_create()
        guard timer >= 0 else {
            let number = straits_errno()
            close(fd)
            throw ZMQError(errno: number, operation: "timerfd_create", detail: "doorbell")
        }
        self.fd = fd
        self.timer = timer
    }

    deinit {
        close(fd)
        close(timer)
    }

    /// Rings at `nanoseconds` on CLOCK_MONOTONIC (at once if that has passed), replacing any
    /// time set before; for the waiting thread.
    public func ring(at nanoseconds: Int64) {
        _ = straits_timerfd_arm(timer, nanoseconds)
    }

    /// Wakes the waiter (or the next wait, if none is waiting now).
    public func ring() {
        _ = straits_eventfd_signal(fd)
    }

    /// Clears pending rings; returns how many there were.
    @discardableResult
    public func drain() -> UInt64 {
        drain(rung: true, timed: true)
    }

    /// Clears what woke a wait: the rings (`rung`) and the timer (`timed`), each read only when it
    /// fired, since releases ring the doorbell once a message and every read is a system call.
    @discardableResult
    func drain(rung: Bool, timed: Bool) -> UInt64 {
        if timed { _ = straits_eventfd_drain(timer) }
        return rung ? straits_eventfd_drain(fd) : 0
    }
}
