import CZeroMQ
import Glibc

/// The frame-level send and receive steps shared by the blocking calls on a socket and by the
/// poller thread that serves async waits. Both run them with `ZMQ_DONTWAIT` and wait in
/// `zmq_poll` themselves, so that every wait has a deadline.
enum ZMQFrameIO {
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
        var index = start
        while index < frames.count {
            var flags = ZMQ_DONTWAIT
            if index < frames.count - 1 { flags |= ZMQ_SNDMORE }
            do {
                _ = try zmqCall("zmq_msg_send", "frame \(index) of \(frames.count)") {
                    zmq_msg_send(frames[index], socket, flags)
                }
            } catch where error.code == .wouldBlock {
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
        var frames: [UnsafeMutablePointer<zmq_msg_t>] = []
        while true {
            let frame = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
            zmq_msg_init(frame)
            do {
                _ = try zmqCall("zmq_msg_recv", "frame \(frames.count)") { zmq_msg_recv(frame, socket, ZMQ_DONTWAIT) }
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

    /// Waits in `zmq_poll` until the socket is ready for `events` or `deadline` passes.
    /// Returns false on timeout. Sleeps in the kernel; never spins.
    ///
    /// The corresponding C function is `zmq_poll`.
    static func wait(
        _ socket: UnsafeMutableRawPointer,
        events: Int16,
        deadline: ContinuousClock.Instant?
    ) throws(ZMQError) -> Bool {
        var item = zmq_pollitem_t(socket: socket, fd: -1, events: events, revents: 0)
        while true {
            let timeout = pollTimeoutMilliseconds(until: deadline, now: .now)
            let ready = try zmqCall("zmq_poll") { zmq_poll(&item, 1, timeout) }
            if ready > 0 { return true }
            if let deadline, ContinuousClock.now >= deadline { return false }
        }
    }

    static func release(_ frames: [UnsafeMutablePointer<zmq_msg_t>]) {
        for frame in frames {
            zmq_msg_close(frame)
            frame.deallocate()
        }
    }
}
