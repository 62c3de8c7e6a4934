import CStraitsShims
import CZeroMQ

extension ZMQSocket {
    /// Receives a whole message, or returns nil as soon as `doorbell` rings (or has rung since
    /// it was last drained, or its time has come), or throws `.timedOut` at the deadline. Blocks the calling thread in
    /// `ppoll` over the socket's `ZMQ_FD` and the doorbell, so the deadline holds to the
    /// microsecond, not to `zmq_poll`'s millisecond; for dedicated threads.
    public mutating func blockingReceive(timeout: Duration?, wakingOn doorbell: ZMQDoorbell) throws(ZMQError)
        -> ZMQMessage?
    {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let fds = [try option(ZMQ_FD), doorbell.fd, doorbell.timer]
        while true {
            if let frames = try ZMQFrameIO.receive(handle) { return ZMQMessage(adopting: frames) }
            // ZMQ_FD only says that something changed: ZMQ_EVENTS (which takes in the socket's
            // pending commands) says whether a message is waiting, before the fd is waited on.
            if try option(ZMQ_EVENTS) & Int32(ZMQ_POLLIN) != 0 { continue }
            let now = ContinuousClock.now
            var nanoseconds: Int64 = -1
            if let deadline {
                if now >= deadline { throw .timedOut("zmq_msg_recv", endpoint) }
                let (seconds, attoseconds) = (deadline - now).components
                nanoseconds = seconds * 1_000_000_000 + (attoseconds + 999_999_999) / 1_000_000_000
            }
            let ready = try zmqCall("ppoll", endpoint) { straits_wait_readable(fds, 3, nanoseconds) }
            if ready & 6 != 0 {
                doorbell.drain(rung: ready & 2 != 0, timed: ready & 4 != 0)
                return nil
            }
        }
    }
}
