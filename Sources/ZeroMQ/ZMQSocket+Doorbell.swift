import CZeroMQ

extension ZMQSocket {
    /// Receives a whole message, or returns nil as soon as `doorbell` rings (or has rung since
    /// it was last drained), or throws `.timedOut` at the deadline. Blocks the calling thread in
    /// `zmq_poll` over the socket and the doorbell; for dedicated threads.
    public mutating func blockingReceive(timeout: Duration?, wakingOn doorbell: ZMQDoorbell) throws(ZMQError) -> ZMQMessage? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var items = [
            zmq_pollitem_t(socket: handle, fd: -1, events: Int16(ZMQ_POLLIN), revents: 0),
            zmq_pollitem_t(socket: nil, fd: doorbell.fd, events: Int16(ZMQ_POLLIN), revents: 0),
        ]
        while true {
            if let frames = try ZMQFrameIO.receive(handle) { return ZMQMessage(adopting: frames) }
            let now = ContinuousClock.now
            if let deadline, now >= deadline { throw .timedOut("zmq_msg_recv", endpoint) }
            items[0].revents = 0
            items[1].revents = 0
            _ = try zmqCall("zmq_poll", endpoint) { zmq_poll(&items, 2, pollTimeoutMilliseconds(until: deadline, now: now)) }
            if items[1].revents != 0 {
                doorbell.drain()
                return nil
            }
        }
    }
}
