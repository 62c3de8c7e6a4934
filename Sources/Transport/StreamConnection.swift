import Glibc
import StraitsWire

/// One TCP connection of a `StreamPlane`, speaking ZMTP: outgoing (this rank's PUSH to a peer's
/// listener) or incoming (a peer's PUSH, accepted). Non-blocking; driven by the rank's thread.
///
/// Input is read into a scratch buffer and parsed as it comes: the greeting, the READY command,
/// then messages of two frames, a 64-byte data header and the payload, whose pieces are handed on
/// as whole float32 values as soon as they are read. Output is the greeting and READY, then for
/// each message its frame headers and data header from a small buffer and its payload written
/// straight from the rank's buffer (writev), so the kernel makes the only copy.
final class StreamConnection {
    enum Role {
        case outgoing, incoming

        /// The ZMTP socket type this end speaks as.
        var socketType: String { self == .outgoing ? "PUSH" : "PULL" }
    }

    private enum Input {
        case greeting
        case frameFlags
        case frameSize(flags: UInt8)
        case command(size: Int)
        case dataHeader
        case payload(header: DataFrameHeader, remaining: Int)
    }

    let role: Role
    private(set) var fd: Int32
    /// The peer's rank: known for an outgoing connection, and from the first message for an
    /// incoming one (every later message must name the same rank).
    var peer: Int?
    /// Whether the peer's greeting and READY have arrived and passed.
    private(set) var handshaken = false
    private var input = Input.greeting
    private var scratch: UnsafeMutableRawPointer
    private let capacity: Int
    private var filled = 0
    private var used = 0
    /// Bytes to write before the open message's payload (the handshake, frame and data headers).
    private var preface: [UInt8]
    private var prefaceSent = 0
    private var messageOpen = false

    static let scratchBytes = 256 << 10

    init(fd: Int32, role: Role, peer: Int?) {
        self.fd = fd
        self.role = role
        self.peer = peer
        capacity = Self.scratchBytes
        scratch = .allocate(byteCount: capacity, alignment: 64)
        preface = ZMTP.greeting + ZMTP.ready(socketType: role.socketType)
    }

    deinit {
        close()
        scratch.deallocate()
    }

    var isOpen: Bool { fd >= 0 }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Whether there are bytes waiting to go (for the poll set).
    var wantsToWrite: Bool { prefaceSent < preface.count || messageOpen }

    // MARK: Output

    /// Writes what the socket takes now of the handshake and then of a message (`sent` bytes of
    /// its payload already written); true once the whole message is written. An outgoing
    /// connection writes messages only after the peer's handshake.
    func write(header: DataFrameHeader, payload: UnsafeRawBufferPointer, sent: inout Int) throws -> Bool {
        if handshaken && !messageOpen && prefaceSent == preface.count {
            preface = ZMTP.frameHeader(flags: ZMTP.Flag.more, size: DataFrameHeader.size) + header.encoded
            preface += ZMTP.frameHeader(flags: 0, size: payload.count)
            prefaceSent = 0
            messageOpen = true
        }
        try flushPreface(then: messageOpen ? payload : nil, sent: &sent)
        guard messageOpen, prefaceSent == preface.count, sent == payload.count else { return false }
        messageOpen = false
        return true
    }

    /// Writes the handshake that is due (an incoming connection has nothing else to write).
    func writeHandshake() throws {
        var none = 0
        try flushPreface(then: nil, sent: &none)
    }

    private func flushPreface(then payload: UnsafeRawBufferPointer?, sent: inout Int) throws {
        while prefaceSent < preface.count || (payload.map { sent < $0.count } ?? false) {
            let written = preface.withUnsafeBytes { head -> Int in
                var parts = (iovec(), iovec())
                var count = 0
                if prefaceSent < head.count {
                    parts.0 = iovec(
                        iov_base: UnsafeMutableRawPointer(mutating: head.baseAddress! + prefaceSent),
                        iov_len: head.count - prefaceSent)
                    count = 1
                }
                if let payload, sent < payload.count {
                    let part = iovec(
                        iov_base: UnsafeMutableRawPointer(mutating: payload.baseAddress! + sent),
                        iov_len: payload.count - sent)
                    if count == 0 { parts.0 = part } else { parts.1 = part }
                    count += 1
                }
                return withUnsafePointer(to: &parts) {
                    $0.withMemoryRebound(to: iovec.self, capacity: 2) { writev(fd, $0, Int32(count)) }
                }
            }
            if written < 0 {
                let number = errno
                if number == EAGAIN || number == EWOULDBLOCK { return }
                if number == EINTR { continue }
                throw RuntimeError(
                    .peerFailed,
                    "the connection to rank \(peer.map(String.init) ?? "?") failed: \(String(cString: strerror(number)))"
                )
            }
            let toPreface = min(written, preface.count - prefaceSent)
            prefaceSent += toPreface
            sent += written - toPreface
        }
    }

    // MARK: Input

    /// Reads what has arrived and hands each whole piece of payload to `deliver` (with this
    /// connection's peer); whether anything was read. Throws what makes the stream unusable: a
    /// closed connection or bytes that break the protocol (the plane drops the connection).
    func read(_ deliver: (Fragment) throws -> Void) throws -> Bool {
        var progressed = false
        // A bounded number of reads a turn, so that the rank's sends go on while a peer streams.
        for _ in 0..<16 where isOpen {
            if used == filled {
                used = 0
                filled = 0
            } else if used > 0 && capacity - filled < 64 {
                memmove(scratch, scratch + used, filled - used)
                filled -= used
                used = 0
            }
            let count = Glibc.read(fd, scratch + filled, capacity - filled)
            if count < 0 {
                let number = errno
                if number == EAGAIN || number == EWOULDBLOCK { return progressed }
                if number == EINTR { continue }
                throw RuntimeError(.peerFailed, "read failed: \(String(cString: strerror(number)))")
            }
            if count == 0 {
                if case .frameFlags = input, filled == used {
                    throw RuntimeError(.peerFailed, "the peer closed the connection")
                }
                throw RuntimeError(.protocolViolation, "the peer closed the connection in the middle of a frame")
            }
            filled += count
            progressed = true
            try parse(deliver)
        }
        return progressed
    }

    private var available: Int { filled - used }

    private func take(_ count: Int) -> UnsafeRawBufferPointer {
        defer { used += count }
        return UnsafeRawBufferPointer(start: scratch + used, count: count)
    }

    private func protocolError(_ what: String) -> RuntimeError {
        RuntimeError(.protocolViolation, what)
    }

    private func parse(_ deliver: (Fragment) throws -> Void) throws {
        while true {
            switch input {
            case .greeting:
                guard available >= 64 else { return }
                do { try ZMTP.checkGreeting(take(64)) } catch { throw protocolError("\(error)") }
                input = .frameFlags
            case .frameFlags:
                guard available >= 1 else { return }
                input = .frameSize(flags: take(1)[0])
            case .frameSize(let flags):
                let sizeBytes = flags & ZMTP.Flag.long != 0 ? 8 : 1
                guard available >= sizeBytes else { return }
                let size = take(sizeBytes).reduce(0) { $0 << 8 | UInt64($1) }
                try begin(frame: flags, size: size)
            case .command(let size):
                guard available >= size else { return }
                guard !handshaken else { throw protocolError("a ZMTP command after the handshake") }
                do { try ZMTP.checkReady(take(size), ours: role.socketType) } catch { throw protocolError("\(error)") }
                handshaken = true
                input = .frameFlags
            case .dataHeader:
                guard available >= DataFrameHeader.size else { return }
                let header: DataFrameHeader
                do { header = try DataFrameHeader(decoding: take(DataFrameHeader.size)) } catch {
                    throw protocolError("\(error)")
                }
                try accept(header)
            case .payload(let header, let remaining):
                let count = min(available, remaining) & ~3
                // An empty payload is delivered too: its message completes a receive.
                guard count > 0 || header.lengthBytes == 0 else { return }
                let start = Int(header.lengthBytes) - remaining
                try deliver(
                    Fragment(
                        peer: Int(header.sourceRank), header: header, start: start, first: take(count),
                        second: UnsafeRawBufferPointer(start: nil, count: 0)))
                input = remaining == count ? .frameFlags : .payload(header: header, remaining: remaining - count)
            }
        }
    }

    /// The next frame: a command during the handshake, else a message's data header (with more
    /// to follow), and then its payload.
    private var pendingHeader: DataFrameHeader?

    private func begin(frame flags: UInt8, size: UInt64) throws {
        if !handshaken {
            guard flags & ZMTP.Flag.command != 0, size <= UInt64(ZMTP.maximumCommandBytes) else {
                throw protocolError(
                    "expected the READY command (at most \(ZMTP.maximumCommandBytes) bytes), got flags \(flags), \(size) bytes"
                )
            }
            input = .command(size: Int(size))
            return
        }
        guard role == .incoming else { throw protocolError("a message from the peer of a PUSH connection") }
        guard flags & ZMTP.Flag.command == 0 else { throw protocolError("a ZMTP command after the handshake") }
        if let header = pendingHeader {
            pendingHeader = nil
            guard flags & ZMTP.Flag.more == 0, size == header.lengthBytes else {
                throw protocolError(
                    "a payload frame of \(size) bytes (more: \(flags & ZMTP.Flag.more != 0)) after a header of \(header.lengthBytes) float32 bytes"
                )
            }
            input = .payload(header: header, remaining: Int(size))
        } else {
            guard flags & ZMTP.Flag.more != 0, size == UInt64(DataFrameHeader.size) else {
                throw protocolError(
                    "a message whose first frame is \(size) bytes, not a \(DataFrameHeader.size)-byte data header")
            }
            input = .dataHeader
        }
    }

    /// Checks a data header against the stream: one sender per connection, float32 payloads
    /// no larger than a data frame carries.
    private func accept(_ header: DataFrameHeader) throws {
        let source = Int(header.sourceRank)
        if let peer, peer != source {
            throw protocolError("a message naming rank \(source) on the connection of rank \(peer)")
        }
        guard header.dtype == .float32, header.lengthBytes % 4 == 0,
            header.lengthBytes <= UInt64(DataFrameHeader.maximumPayloadBytes)
        else {
            throw protocolError(
                "a \(header.dtype) payload of \(header.lengthBytes) bytes; this plane carries float32 up to \(DataFrameHeader.maximumPayloadBytes) bytes"
            )
        }
        peer = source
        pendingHeader = header
        input = .frameFlags
    }
}
