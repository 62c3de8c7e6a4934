import CStraitsShims
import CZeroMQ
import Glibc
import Synchronization

/// The dedicated thread that waits on behalf of async code.
///
/// An async send or receive that cannot finish at once hands its socket and frames to the
/// poller and suspends; the poller's thread sleeps in `zmq_poll` over every waiting socket plus
/// an eventfd (its doorbell), performs each operation when its socket is ready, and resumes the
/// waiting task. No cooperative-pool thread ever blocks, and nothing polls in a loop: the thread
/// sleeps until a socket is ready, the doorbell rings, or the nearest deadline passes.
final class ZMQPoller: Sendable {
    /// What a waiting task asked for.
    enum Operation {
        case receive
        case send(frames: [UnsafeMutablePointer<zmq_msg_t>], next: Int)
    }

    /// How a wait ended.
    enum Outcome: @unchecked Sendable {
        // Unchecked: the frames belong to exactly one party at a time; the poller gives them up
        // when it resumes the continuation and never touches them again.
        case received([UnsafeMutablePointer<zmq_msg_t>])
        case sent
        case failed(ZMQError)
    }

    /// One pending wait. Unchecked Sendable: the socket is exclusively borrowed by the suspended
    /// task (its async method is `mutating` on a `~Copyable` socket), and the frames are owned by
    /// the request, so only the poller's thread touches either until it resumes the task.
    struct Request: @unchecked Sendable {
        let id: UInt64
        let socket: UnsafeMutableRawPointer
        var operation: Operation
        let deadline: ContinuousClock.Instant?
        let detail: String
        let continuation: CheckedContinuation<Outcome, Never>

        var events: Int16 {
            switch operation {
            case .receive: Int16(ZMQ_POLLIN)
            case .send: Int16(ZMQ_POLLOUT)
            }
        }

        var operationName: String {
            switch operation {
            case .receive: "zmq_msg_recv"
            case .send: "zmq_msg_send"
            }
        }

        /// Closes the request's frames (those already sent are empty; closing them is harmless).
        func releaseFrames() {
            if case .send(let frames, _) = operation {
                ZMQFrameIO.release(frames)
            }
        }
    }

    private struct Inbox: ~Copyable {
        var incoming: [Request] = []
        var cancelled: Set<UInt64> = []
        var nextID: UInt64 = 0
        var stopping = false
    }

    private let inbox = Mutex(Inbox())
    private let doorbell: Int32
    private let thread: Mutex<pthread_t?> = Mutex(nil)

    init() throws(ZMQError) {
        let fd = straits_eventfd_create()
        guard fd >= 0 else {
            throw ZMQError(errno: straits_errno(), operation: "eventfd", detail: "poller doorbell")
        }
        doorbell = fd
    }

    deinit {
        close(doorbell)
    }

    /// Starts the thread. Called once, by the context that owns the poller.
    func start() {
        let box = Unmanaged.passRetained(self)
        var tid = pthread_t()
        let status = pthread_create(
            &tid, nil,
            { argument in
                let poller = Unmanaged<ZMQPoller>.fromOpaque(argument!).takeRetainedValue()
                poller.run()
                return nil
            }, box.toOpaque())
        precondition(status == 0, "pthread_create for the ZeroMQ poller failed: \(String(cString: strerror(status)))")
        thread.withLock { $0 = tid }
    }

    /// Stops the thread and waits for it. Requests still pending fail with `terminated`.
    func stop() {
        inbox.withLock { $0.stopping = true }
        _ = straits_eventfd_signal(doorbell)
        if let tid = thread.withLock({ $0.take() }) {
            pthread_join(tid, nil)
        }
    }

    /// A fresh id for a wait, so that a cancellation can name it before it is submitted.
    func makeID() -> UInt64 {
        inbox.withLock { inbox in
            inbox.nextID &+= 1
            return inbox.nextID
        }
    }

    /// Hands a request to the poller thread, or fails it at once if it was cancelled already.
    func submit(_ request: Request) {
        let cancelledAlready = inbox.withLock { inbox -> Bool in
            if inbox.cancelled.contains(request.id) { return true }
            if inbox.stopping { return true }
            inbox.incoming.append(request)
            return false
        }
        if cancelledAlready {
            request.releaseFrames()
            request.continuation.resume(returning: .failed(.cancelled(request.operationName, request.detail)))
            return
        }
        _ = straits_eventfd_signal(doorbell)
    }

    /// Marks a wait as cancelled; the poller thread fails it on its next turn.
    func cancel(_ id: UInt64) {
        inbox.withLock { _ = $0.cancelled.insert(id) }
        _ = straits_eventfd_signal(doorbell)
    }

    /// Forgets a cancellation mark once its wait has ended (a cancel can race with completion).
    func forget(_ id: UInt64) {
        inbox.withLock { _ = $0.cancelled.remove(id) }
    }

    private func run() {
        var active: [Request] = []
        var items: [zmq_pollitem_t] = []
        var finished: [(CheckedContinuation<Outcome, Never>, Outcome)] = []

        while true {
            let (incoming, cancelled, stopping) = inbox.withLock { inbox in
                defer { inbox.incoming.removeAll(keepingCapacity: true) }
                return (inbox.incoming, inbox.cancelled, inbox.stopping)
            }
            active.append(contentsOf: incoming)
            if !cancelled.isEmpty || stopping {
                active.removeAll { request in
                    let error: ZMQError
                    if cancelled.contains(request.id) {
                        error = .cancelled(request.operationName, request.detail)
                    } else if stopping {
                        error = ZMQError(errno: ETERM, operation: request.operationName, detail: request.detail)
                    } else {
                        return false
                    }
                    request.releaseFrames()
                    finished.append((request.continuation, .failed(error)))
                    return true
                }
            }
            resume(&finished)
            if stopping { return }

            items.removeAll(keepingCapacity: true)
            items.append(zmq_pollitem_t(socket: nil, fd: doorbell, events: Int16(ZMQ_POLLIN), revents: 0))
            var nearest: ContinuousClock.Instant?
            for request in active {
                items.append(zmq_pollitem_t(socket: request.socket, fd: -1, events: request.events, revents: 0))
                if let deadline = request.deadline, nearest.map({ deadline < $0 }) ?? true { nearest = deadline }
            }

            let timeout = pollTimeoutMilliseconds(until: nearest, now: .now)
            let status = zmq_poll(&items, Int32(items.count), timeout)
            // ETERM: a context was shut down; every operation on it now fails with ETERM, so try
            // them all and let each report its own error.
            let tryAll = status == -1 && zmq_errno() == ETERM
            if status == -1 && !tryAll { continue }  // EINTR

            if items[0].revents != 0 { _ = straits_eventfd_drain(doorbell) }
            let now = ContinuousClock.now
            var kept = 0
            for index in active.indices {
                var request = active[index]
                if tryAll || items[index + 1].revents != 0, let outcome = perform(&request) {
                    finished.append((request.continuation, outcome))
                } else if let deadline = request.deadline, now >= deadline {
                    request.releaseFrames()
                    finished.append((request.continuation, .failed(.timedOut(request.operationName, request.detail))))
                } else {
                    active[kept] = request
                    kept += 1
                }
            }
            active.removeLast(active.count - kept)
            resume(&finished)
        }
    }

    /// Performs a ready request without blocking; nil if it must wait more.
    private func perform(_ request: inout Request) -> Outcome? {
        do {
            switch request.operation {
            case .receive:
                guard let frames = try ZMQFrameIO.receive(request.socket) else { return nil }
                return .received(frames)
            case .send(let frames, let next):
                let sent = try ZMQFrameIO.send(request.socket, frames, from: next)
                if sent == frames.count {
                    ZMQFrameIO.release(frames)
                    return .sent
                }
                request.operation = .send(frames: frames, next: sent)
                return nil
            }
        } catch {
            request.releaseFrames()
            return .failed(error)
        }
    }

    private func resume(_ finished: inout [(CheckedContinuation<Outcome, Never>, Outcome)]) {
        for (continuation, outcome) in finished {
            continuation.resume(returning: outcome)
        }
        finished.removeAll(keepingCapacity: true)
    }
}
