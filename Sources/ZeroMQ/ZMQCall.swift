import CZeroMQ
import Glibc

// The one place where libzmq's return codes become Swift errors. Every `zmq_*` call that can
// fail goes through these helpers: they retry on `EINTR`, and map `EAGAIN`, `ETERM` and the rest
// to a typed `ZMQError` built from `zmq_errno()` and `zmq_strerror()`.

/// Runs a libzmq call that returns -1 on failure, retrying while it is interrupted by a signal.
@inline(__always)
func zmqCall(
    _ operation: StaticString,
    _ detail: @autoclosure () -> String = "",
    _ body: () -> Int32
) throws(ZMQError) -> Int32 {
    while true {
        let result = body()
        if result != -1 { return result }
        let number = zmq_errno()
        if number == EINTR { continue }
        throw ZMQError(errno: number, operation: "\(operation)", detail: detail())
    }
}

/// Runs a libzmq call that returns a null pointer on failure.
@inline(__always)
func zmqCall(
    _ operation: StaticString,
    _ detail: @autoclosure () -> String = "",
    _ body: () -> UnsafeMutableRawPointer?
) throws(ZMQError) -> UnsafeMutableRawPointer {
    while true {
        if let pointer = body() { return pointer }
        let number = zmq_errno()
        if number == EINTR { continue }
        throw ZMQError(errno: number, operation: "\(operation)", detail: detail())
    }
}

/// A deadline on the continuous clock, turned into the milliseconds `zmq_poll` takes.
/// Rounds up, so a wait never returns before its deadline and never spins on a zero timeout.
@inline(__always)
func pollTimeoutMilliseconds(until deadline: ContinuousClock.Instant?, now: ContinuousClock.Instant) -> Int {
    guard let deadline else { return -1 }
    if deadline <= now { return 0 }
    let (seconds, attoseconds) = (deadline - now).components
    let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return Int(min(milliseconds, Int64(Int32.max)))
}

/// A duration in whole milliseconds, truncated, for libzmq's millisecond options.
@inline(__always)
func milliseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return seconds * 1000 + attoseconds / 1_000_000_000_000_000
}
