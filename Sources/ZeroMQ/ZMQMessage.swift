import CZeroMQ

/// A multipart ZeroMQ message: one or more frames, each a `zmq_msg_t` that lives on the heap.
///
/// The message is single-owner: sending consumes it, and its frames are closed (`zmq_msg_close`)
/// when it is dropped. libzmq keeps payloads of up to 33 bytes inside the `zmq_msg_t` itself, so
/// the struct must never move: each frame is allocated once and only its pointer travels.
/// Payloads are lent to closures (`withFrame(_:_:)`), never handed out as stored pointers.
public struct ZMQMessage: ~Copyable {
    /// Heap-allocated, initialised `zmq_msg_t`s, in frame order.
    var frames: [UnsafeMutablePointer<zmq_msg_t>]
    /// How many leading frames a send has already handed to libzmq (they are empty now).
    var framesSent = 0

    /// An empty message; append frames to it.
    public init() {
        frames = []
    }

    /// A one-frame message holding a copy of `bytes`.
    public init(copying bytes: UnsafeRawBufferPointer) {
        frames = []
        append(copying: bytes)
    }

    /// A one-frame message holding a copy of `bytes`.
    public init(_ bytes: [UInt8]) {
        frames = []
        append(bytes)
    }

    /// A one-frame message holding the UTF-8 bytes of `text`.
    public init(_ text: String) {
        frames = []
        append(text)
    }

    /// Adopts frames that libzmq filled (a receive).
    init(adopting frames: [UnsafeMutablePointer<zmq_msg_t>]) {
        self.frames = frames
    }

    deinit {
        for frame in frames {
            zmq_msg_close(frame)
            frame.deallocate()
        }
    }

    /// The number of frames.
    public var count: Int { frames.count - framesSent }

    /// Whether the message has no frames.
    public var isEmpty: Bool { count == 0 }

    /// Appends a frame holding a copy of `bytes`.
    ///
    /// The corresponding C functions are `zmq_msg_init_size` and `zmq_msg_data`.
    public mutating func append(copying bytes: UnsafeRawBufferPointer) {
        let frame = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
        // zmq_msg_init_size fails only with ENOMEM, which libzmq itself treats as fatal.
        precondition(zmq_msg_init_size(frame, bytes.count) == 0, "zmq_msg_init_size(\(bytes.count)): out of memory")
        if let base = bytes.baseAddress, bytes.count > 0 {
            zmq_msg_data(frame).copyMemory(from: base, byteCount: bytes.count)
        }
        frames.append(frame)
    }

    /// Appends a frame holding a copy of `bytes`.
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append(copying: $0) }
    }

    /// Appends a frame holding the UTF-8 bytes of `text`.
    public mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append(copying: UnsafeRawBufferPointer($0)) }
    }

    /// Appends a frame that points at `bytes` without copying them.
    ///
    /// libzmq reads the bytes while it sends them, possibly after `send` has returned, from its
    /// own I/O thread. `owner` is kept alive until libzmq lets go of the frame; then `onRelease`
    /// runs (exactly once, on a libzmq thread) and `owner` is released. The caller must not
    /// change or free the bytes before that: this is how a buffer pool knows a buffer is free.
    ///
    /// The corresponding C function is `zmq_msg_init_data`.
    public mutating func append(
        zeroCopy bytes: UnsafeRawBufferPointer,
        owner: AnyObject? = nil,
        onRelease: (@Sendable () -> Void)? = nil
    ) {
        let frame = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
        let release = Unmanaged.passRetained(ZeroCopyRelease(owner: owner, onRelease: onRelease))
        let data = UnsafeMutableRawPointer(mutating: bytes.baseAddress)
        let status = zmq_msg_init_data(frame, data, bytes.count, zeroCopyFree, release.toOpaque())
        if status != 0 {
            release.release()
            frame.deallocate()
            preconditionFailure("zmq_msg_init_data(\(bytes.count)): out of memory")
        }
        frames.append(frame)
    }

    /// Puts a frame holding a copy of `bytes` in front of the others.
    public mutating func prepend(_ bytes: [UInt8]) {
        append(bytes)
        frames.insert(frames.removeLast(), at: framesSent)
    }

    /// Removes the first frame (a routing frame, say) without touching the others' payloads.
    ///
    /// The corresponding C function is `zmq_msg_close`.
    public mutating func removeFirstFrame() {
        precondition(count > 0, "removeFirstFrame of an empty message")
        let frame = frames.remove(at: framesSent)
        zmq_msg_close(frame)
        frame.deallocate()
    }

    /// The size of frame `index` in bytes.
    ///
    /// The corresponding C function is `zmq_msg_size`.
    public func frameSize(_ index: Int) -> Int {
        zmq_msg_size(frame(index))
    }

    /// Lends the payload of frame `index` to `body` without copying it.
    ///
    /// The pointer is valid only inside `body`; libzmq guarantees 8-byte alignment at most.
    public func withFrame<Result, Failure: Error>(
        _ index: Int,
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let frame = frame(index)
        return try body(UnsafeRawBufferPointer(start: zmq_msg_data(frame), count: zmq_msg_size(frame)))
    }

    /// A copy of frame `index`'s bytes.
    public func bytes(_ index: Int) -> [UInt8] {
        withFrame(index) { Array($0) }
    }

    /// Frame `index` decoded as UTF-8 (invalid sequences repaired).
    public func string(_ index: Int) -> String {
        withFrame(index) { String(decoding: $0, as: UTF8.self) }
    }

    private func frame(_ index: Int) -> UnsafeMutablePointer<zmq_msg_t> {
        precondition(index >= 0 && index < count, "frame \(index) of a \(count)-frame message")
        return frames[framesSent + index]
    }
}

/// What a zero-copy frame keeps alive, handed to libzmq as the free function's hint.
private final class ZeroCopyRelease {
    let owner: AnyObject?
    let onRelease: (@Sendable () -> Void)?

    init(owner: AnyObject?, onRelease: (@Sendable () -> Void)?) {
        self.owner = owner
        self.onRelease = onRelease
    }
}

/// libzmq's free function for zero-copy frames: runs the release hook once and drops the owner.
private let zeroCopyFree: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { _, hint in
    guard let hint else { return }
    let release = Unmanaged<ZeroCopyRelease>.fromOpaque(hint).takeRetainedValue()
    release.onRelease?()
}
