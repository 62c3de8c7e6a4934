import CZeroMQ
import Synchronization

/// A libzmq context: its I/O threads and the poller thread that serves async waits.
///
/// Sockets keep their context alive, so the context is terminated (`zmq_ctx_term`) only after
/// its last socket is closed, and then it returns within the sockets' linger time.
/// Unchecked Sendable: libzmq documents contexts as thread-safe, and the poller is guarded by a mutex.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    private let poller = Mutex<ZMQPoller?>(nil)

    /// The process-wide context, with one I/O thread.
    public static let shared: ZMQContext = {
        do {
            return try ZMQContext()
        } catch {
            fatalError("cannot create the shared ZeroMQ context: \(error)")
        }
    }()

    /// Creates a context with `ioThreads` libzmq I/O threads.
    ///
    /// The corresponding C functions are `zmq_ctx_new` and `zmq_ctx_set`.
    public init(ioThreads: Int = 1) throws(ZMQError) {
        handle = try zmqCall("zmq_ctx_new") { zmq_ctx_new() }
        do {
            _ = try zmqCall("zmq_ctx_set", "ZMQ_IO_THREADS=\(ioThreads)") {
                zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(ioThreads))
            }
            // Sockets get a finite linger of their own (ZMQSocket.Options), so termination
            // never waits forever on a message nobody will take.
            _ = try zmqCall("zmq_ctx_set", "ZMQ_BLOCKY=0") { zmq_ctx_set(handle, ZMQ_BLOCKY, 0) }
        } catch {
            zmq_ctx_term(handle)
            throw error
        }
    }

    deinit {
        poller.withLock { $0 }?.stop()
        // No socket is open (each keeps the context alive), so this returns within their linger.
        while zmq_ctx_term(handle) == -1 && zmq_errno() == EINTR {}
    }

    /// Shuts the context down: every blocking or pending operation on its sockets fails with
    /// `.terminated`. The sockets must still be closed (dropped) afterwards.
    ///
    /// The corresponding C function is `zmq_ctx_shutdown`.
    public func shutdown() {
        zmq_ctx_shutdown(handle)
    }

    /// The poller thread, started on first use.
    func sharedPoller() throws(ZMQError) -> ZMQPoller {
        try poller.withLock { (slot: inout ZMQPoller?) throws(ZMQError) -> ZMQPoller in
            if let existing = slot { return existing }
            let created = try ZMQPoller()
            created.start()
            slot = created
            return created
        }
    }

    /// Whether libzmq was built with a capability, such as `"curve"` or `"ipc"`.
    ///
    /// The corresponding C function is `zmq_has`.
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) == 1
    }

    /// libzmq's version as (major, minor, patch).
    public static var version: (major: Int, minor: Int, patch: Int) {
        var major: Int32 = 0
        var minor: Int32 = 0
        var patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (Int(major), Int(minor), Int(patch))
    }
}
