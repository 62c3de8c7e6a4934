import CZeroMQ
import Glibc

/// The frame-level send and receive steps shared by the calls on a socket and by the poller
/// thread that serves async waits. The poller runs them with `ZMQ_DONTWAIT` and waits in
/// `zmq_poll` itself; blocking calls wait inside libzmq, bounded by `ZMQ_SNDTIMEO`/`ZMQ_RCVTIMEO`.
/// Either way every wait has a deadline.
enum ZMQFrameIO {
    /// Whether a send or receive may wait inside libzmq for its first frame.
    enum Wait {
        /// `ZMQ_DONTWAIT`: give up at once.
        case never
        /// Block until the deadline (nil: no deadline).
        case until(ContinuousClock.Instant?)
    }

    /// Sends frames from `start` on, each with `ZMQ_SNDMORE` but the last, without blocking.
    ///
    /// Returns the index of the first frame libzmq did not take (`frames.count` when all went).
    /// libzmq delivers multipart messages atomically: once the first frame is taken, the rest are.
    ///
    /// The corresponding C function is `zmq_msg_send`.
    static func send(
        _ socket: UnsafeMutableRawPointer,
        _ frames: [UnsafeMutablePointer<zmq_msg_t>],
        from start: Int
    ) throws(ZMQError) -> Int {
        try send(socket, frames, from: start, wait: .never)
    }

    /// Sends frames from `start` on. With `.until`, the first of them may block inside
    /// `zmq_msg_send` (bounded by `ZMQ_SNDTIMEO`) until libzmq takes it or the deadline passes.
    static func send(
        _ socket: UnsafeMutableRawPointer,
        _ frames: [UnsafeMutablePointer<zmq_msg_t>],
        from start: Int,
        wait: Wait
    ) throws(ZMQError) -> Int {
        var index = start
        var blocking = false
        if index < frames.count, case .until(let deadline) = wait {
            try setTimeout(socket, ZMQ_SNDTIMEO, "ZMQ_SNDTIMEO", until: deadline)
            blocking = true
        }
        while index < frames.count {
            var flags: Int32 = index == start && blocking ? 0 : ZMQ_DONTWAIT
            if index < frames.count - 1 { flags |= ZMQ_SNDMORE }
            do {
                _ = try zmqCall("zmq_msg_send", "frame \(index) of \(frames.count)") {
                    zmq_msg_send(frames[index], socket, flags)
                }
            } catch  where error.code == .wouldBlock {
                return index
            }
            index += 1
        }
        return index
    }

    /// Receives one whole multipart message without blocking, or returns nil if none is queued.
    ///
    /// The corresponding C functions are `zmq_msg_recv` and `zmq_msg_more`.
    static func receive(_ socket: UnsafeMutableRawPointer) throws(ZMQError) -> [UnsafeMutablePointer<zmq_msg_t>]? {
        try receive(socket, wait: .never)
    }

    /// Receives one whole multipart message. With `.until`, the calling thread blocks inside
    /// `zmq_msg_recv` (libzmq's own wait, bounded by `ZMQ_RCVTIMEO`) until the first frame
    /// arrives or the deadline passes; nil means nothing came in time.
    static func receive(
        _ socket: UnsafeMutableRawPointer,
        wait: Wait
    ) throws(ZMQError) -> [UnsafeMutablePointer<zmq_msg_t>]? {
        var frames: [UnsafeMutablePointer<zmq_msg_t>] = []
        while true {
            let frame = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
            zmq_msg_init(frame)
            do {
                if frames.isEmpty, case .until(let deadline) = wait {
                    // The rest of a multipart message is already queued once its first frame is.
                    try setTimeout(socket, ZMQ_RCVTIMEO, "ZMQ_RCVTIMEO", until: deadline)
                    _ = try zmqCall("zmq_msg_recv", "frame 0") { zmq_msg_recv(frame, socket, 0) }
                } else {
                    _ = try zmqCall("zmq_msg_recv", "frame \(frames.count)") {
                        zmq_msg_recv(frame, socket, ZMQ_DONTWAIT)
                    }
                }
            } catch {
                zmq_msg_close(frame)
                frame.deallocate()
                // A multipart message arrives whole, so only its first frame can be missing.
                if error.code == .wouldBlock && frames.isEmpty { return nil }
                release(frames)
                throw error
            }
            frames.append(frame)
            if zmq_msg_more(frame) == 0 { return frames }
        }
    }

    /// Sets `ZMQ_RCVTIMEO` or `ZMQ_SNDTIMEO` to the milliseconds left until `deadline` (-1: none).
    static func setTimeout(
        _ socket: UnsafeMutableRawPointer,
        _ option: Int32,
        _ label: StaticString,
        until deadline: ContinuousClock.Instant?
    ) throws(ZMQError) {
        var timeout = Int32(clamping: pollTimeoutMilliseconds(until: deadline, now: .now))
        _ = try zmqCall("zmq_setsockopt", "\(label)=\(timeout)") {
            zmq_setsockopt(socket, option, &timeout, MemoryLayout<Int32>.size)
        }
    }

    static func release(_ frames: [UnsafeMutablePointer<zmq_msg_t>]) {
        for frame in frames {
            zmq_msg_close(frame)
            frame.deallocate()
        }
    }
}
