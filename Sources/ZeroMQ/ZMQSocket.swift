import CZeroMQ

/// The ZeroMQ socket types Straits uses.
public enum ZMQSocketType: Sendable, CustomStringConvertible {
    case router, dealer, push, pull, pair
    /// For a ZAP handler (`ZMQAuthenticator`), which libzmq asks by request and reply.
    case rep

    var rawValue: Int32 {
        switch self {
        case .rep: ZMQ_REP
        case .router: ZMQ_ROUTER
        case .dealer: ZMQ_DEALER
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        case .pair: ZMQ_PAIR
        }
    }

    public var description: String {
        switch self {
        case .rep: "REP"
        case .router: "ROUTER"
        case .dealer: "DEALER"
        case .push: "PUSH"
        case .pull: "PULL"
        case .pair: "PAIR"
        }
    }
}

/// A ZeroMQ socket with a single owner.
///
/// libzmq sockets are not thread-safe; a `~Copyable` value with `mutating` operations lets only
/// one thread or task use it at a time, and it is closed (`zmq_close`) when dropped. It keeps its
/// context alive, so the context can't be terminated under it.
///
/// Three ways to wait, each with a deadline:
/// - `send(_:timeout:)` / `receive(timeout:)` are async: the wait happens on the context's poller
///   thread and never holds a cooperative-pool thread; cancellation ends it with `.cancelled`.
/// - `blockingSend(_:timeout:)` / `blockingReceive(timeout:)` block the calling thread inside
///   libzmq (bounded by `ZMQ_SNDTIMEO`/`ZMQ_RCVTIMEO`); for dedicated threads.
/// - `trySend(_:)` / `tryReceive()` never wait.
public struct ZMQSocket: ~Copyable, @unchecked Sendable {
    // Unchecked Sendable: moving the single owner to another thread is safe; libzmq requires only
    // that one thread at a time uses a socket, with a memory barrier between (the move provides it).
    let handle: UnsafeMutableRawPointer
    /// The context the socket belongs to (kept alive by the socket).
    public let context: ZMQContext
    /// The socket's type.
    public let type: ZMQSocketType
    /// The last endpoint bound or connected, for error messages.
    public private(set) var endpoint: String = ""

    /// Opens a socket with a finite linger (default 1 s), so closing it never waits forever.
    ///
    /// The corresponding C function is `zmq_socket`.
    public init(_ type: ZMQSocketType, context: ZMQContext = .shared, linger: Duration = .seconds(1)) throws(ZMQError) {
        let handle = try zmqCall("zmq_socket", "\(type)") { zmq_socket(context.handle, type.rawValue) }
        var lingerMilliseconds = Int32(clamping: milliseconds(linger))
        do {
            _ = try zmqCall("zmq_setsockopt", "ZMQ_LINGER=\(lingerMilliseconds)") {
                zmq_setsockopt(handle, ZMQ_LINGER, &lingerMilliseconds, MemoryLayout<Int32>.size)
            }
        } catch {
            zmq_close(handle)
            throw error
        }
        self.handle = handle
        self.context = context
        self.type = type
    }

    deinit {
        zmq_close(handle)
    }

    /// Binds to an endpoint such as `tcp://127.0.0.1:*`, `ipc:///tmp/x` or `inproc://name`.
    /// Returns the endpoint actually bound (with the port chosen for a `*`).
    ///
    /// The corresponding C function is `zmq_bind`.
    @discardableResult
    public mutating func bind(_ endpoint: String) throws(ZMQError) -> String {
        _ = try zmqCall("zmq_bind", endpoint) { zmq_bind(handle, endpoint) }
        self.endpoint = try lastEndpoint()
        return self.endpoint
    }

    /// Connects to an endpoint; libzmq reconnects in the background until the peer is there.
    ///
    /// The corresponding C function is `zmq_connect`.
    public mutating func connect(_ endpoint: String) throws(ZMQError) {
        _ = try zmqCall("zmq_connect", endpoint) { zmq_connect(handle, endpoint) }
        self.endpoint = endpoint
    }

    /// Stops using an endpoint that was connected.
    ///
    /// The corresponding C function is `zmq_disconnect`.
    public mutating func disconnect(_ endpoint: String) throws(ZMQError) {
        _ = try zmqCall("zmq_disconnect", endpoint) { zmq_disconnect(handle, endpoint) }
    }

    // MARK: Non-blocking

    /// Sends without waiting. Returns nil when libzmq took the message, or gives the message
    /// back untouched when it would block (high-water mark reached, or no peer yet).
    public mutating func trySend(_ message: consuming ZMQMessage) throws(ZMQError) -> ZMQMessage? {
        message.framesSent = try ZMQFrameIO.send(handle, message.frames, from: message.framesSent)
        if message.isEmpty { return nil }
        return .some(message)
    }

    /// Receives without waiting; throws `.wouldBlock` when no message is queued.
    public mutating func tryReceive() throws(ZMQError) -> ZMQMessage {
        guard let frames = try ZMQFrameIO.receive(handle) else {
            throw ZMQError(errno: EAGAIN, operation: "zmq_msg_recv", detail: endpoint)
        }
        return ZMQMessage(adopting: frames)
    }

    // MARK: Blocking the calling thread

    /// Sends, blocking the calling thread in libzmq until libzmq takes the message or
    /// `timeout` passes (nil: no deadline). On a timeout the message is dropped.
    public mutating func blockingSend(_ message: consuming ZMQMessage, timeout: Duration? = nil) throws(ZMQError) {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            // libzmq's own blocking send, bounded by ZMQ_SNDTIMEO.
            message.framesSent = try ZMQFrameIO.send(
                handle, message.frames, from: message.framesSent, wait: .until(deadline))
            if message.isEmpty { return }
            if let deadline, ContinuousClock.now >= deadline { throw .timedOut("zmq_msg_send", endpoint) }
        }
    }

    /// Receives a whole multipart message, blocking the calling thread in libzmq until one
    /// arrives or `timeout` passes (nil: no deadline).
    public mutating func blockingReceive(timeout: Duration? = nil) throws(ZMQError) -> ZMQMessage {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            // libzmq's own blocking receive, bounded by ZMQ_RCVTIMEO: the same wait a C program
            // does, with no extra poll per message.
            if let frames = try ZMQFrameIO.receive(handle, wait: .until(deadline)) {
                return ZMQMessage(adopting: frames)
            }
            // ZMQ_RCVTIMEO ran out; it counts whole milliseconds, so check the deadline itself.
            if let deadline, ContinuousClock.now >= deadline { throw .timedOut("zmq_msg_recv", endpoint) }
        }
    }

    // MARK: Async

    /// Sends; if libzmq can't take the message at once, waits on the poller thread until it can,
    /// `timeout` passes (`.timedOut`) or the task is cancelled (`.cancelled`). On either of those
    /// the message is dropped.
    public mutating func send(_ message: consuming ZMQMessage, timeout: Duration? = nil) async throws(ZMQError) {
        message.framesSent = try ZMQFrameIO.send(handle, message.frames, from: message.framesSent)
        if message.isEmpty { return }
        let operation = ZMQPoller.Operation.send(frames: message.frames, next: message.framesSent)
        message.frames = []  // the poller owns them now
        message.framesSent = 0
        switch try await wait(operation, timeout: timeout) {
        case .sent: return
        case .received: preconditionFailure("a send resumed with a received message")
        case .failed(let error): throw error
        }
    }

    /// Receives a whole multipart message; if none is queued, waits on the poller thread until
    /// one arrives, `timeout` passes (`.timedOut`) or the task is cancelled (`.cancelled`).
    public mutating func receive(timeout: Duration? = nil) async throws(ZMQError) -> ZMQMessage {
        if let frames = try ZMQFrameIO.receive(handle) { return ZMQMessage(adopting: frames) }
        switch try await wait(.receive, timeout: timeout) {
        case .received(let frames): return ZMQMessage(adopting: frames)
        case .sent: preconditionFailure("a receive resumed as a send")
        case .failed(let error): throw error
        }
    }

    private mutating func wait(_ operation: ZMQPoller.Operation, timeout: Duration?) async throws(ZMQError)
        -> ZMQPoller.Outcome
    {
        let poller: ZMQPoller
        do {
            poller = try context.sharedPoller()
        } catch {
            if case .send(let frames, _) = operation { ZMQFrameIO.release(frames) }
            throw error
        }
        let id = poller.makeID()
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let socket = handle
        let detail = endpoint
        let outcome = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                poller.submit(
                    ZMQPoller.Request(
                        id: id, socket: socket, operation: operation, deadline: deadline,
                        detail: detail, continuation: continuation))
            }
        } onCancel: {
            poller.cancel(id)
        }
        poller.forget(id)
        return outcome
    }
}
