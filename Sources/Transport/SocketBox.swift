import Collectives
import Emulation
import StraitsWire
import ZeroMQ

/// A reference to one socket, for keeping sockets in collections and handing them to the thread
/// that uses them. Unchecked Sendable: a box is handed from the thread that made it to the one
/// device thread that uses it from then on; no two threads use it at once.
public final class SocketBox: @unchecked Sendable {
    public var socket: ZMQSocket
    /// For a connection to a gateway: the rank its messages are for (each goes with a route frame).
    public var route: Int?
    /// Whether the connection is inproc (a device of the same worker): libzmq hands such a
    /// message to the receiver as it is, and releases a zero-copy payload only once the receiver
    /// is done with it.
    public var inproc = false

    public init(_ socket: consuming ZMQSocket) {
        self.socket = socket
    }

    /// Receives a data message for `rank`, or nil when `doorbell` rings or `timeout` passes.
    public func receive(timeout: Duration, wakingOn doorbell: ZMQDoorbell, rank: Int) throws -> HeldMessage? {
        let result: Result<ZMQMessage?, ZMQError> = Result { () throws(ZMQError) -> ZMQMessage? in
            try socket.blockingReceive(timeout: timeout, wakingOn: doorbell)
        }
        switch consume result {
        case .success(let message):
            guard let message else { return nil }
            return try HeldMessage(message, rank: rank)
        case .failure(let error):
            if error.code == .timedOut { return nil }
            throw error
        }
    }
}

/// A received data message (header and payload frames), its header decoded once on arrival,
/// held until the operation it belongs to may run. Unchecked Sendable: owned by one device thread.
public final class HeldMessage: @unchecked Sendable {
    public let message: ZMQMessage
    public let header: DataFrameHeader
    /// When the message reaches this rank (CLOCK_MONOTONIC nanoseconds), where a gateway sent it
    /// on before that with an arrival frame (`GatewayRoute`); nil: it has arrived.
    public let arrivesAt: Int64?
    /// When this rank received it (CLOCK_MONOTONIC nanoseconds).
    public let receivedAt = SystemClock.shared.now()

    /// Checks the frame count and decodes the header; throws what is wrong with it.
    public init(_ message: consuming ZMQMessage, rank: Int) throws {
        var message = message
        if message.count == 3 {
            guard let arrival = message.withFrame(0, { GatewayRoute.parse($0, magic: GatewayRoute.arrivalMagic) })
            else {
                throw RuntimeError(
                    .protocolViolation,
                    "rank \(rank): data message with 3 frames whose first is not an arrival frame (24 bytes, magic STRA)"
                )
            }
            arrivesAt = arrival.sentAt
            message.removeFirstFrame()
        } else {
            arrivesAt = nil
        }
        guard message.count == 2 else {
            throw RuntimeError(
                .protocolViolation,
                "rank \(rank): data message with \(message.count) frames, expected 2 (header, payload), after an arrival frame or not"
            )
        }
        let bytes = message.bytes(0)
        do {
            header = try bytes.withUnsafeBytes { raw in try DataFrameHeader(decoding: raw) }
        } catch {
            throw RuntimeError(.protocolViolation, "rank \(rank): a data header that does not decode", cause: error)
        }
        if header.flags & DataFrameHeader.Flags.checksummed != 0 {
            var crc: UInt32 = 0
            message.withFrame(1) { crc = CRC32C.checksum($0) }
            guard crc == header.crc32c else {
                throw RuntimeError(
                    .protocolViolation,
                    "rank \(rank): payload from rank \(header.sourceRank) tag \(header.tag) fails its CRC32C (0x\(String(crc, radix: 16)), header says 0x\(String(header.crc32c, radix: 16)))"
                )
            }
        }
        self.message = message
    }

    public var payloadSize: Int { message.frameSize(1) }

    /// Adds the float32 payload (frame 1) into `target`.
    public func reducePayload(into target: UnsafeMutableRawPointer, count: Int) {
        Self.apply(message, reduce: true, into: target, count: count)
    }

    /// Copies the payload (frame 1) to `target`.
    public func copyPayload(into target: UnsafeMutableRawPointer) {
        Self.apply(message, reduce: false, into: target, count: payloadSize / MemoryLayout<Float>.size)
    }

    /// Decodes a payload in a lossy wire format into `target`, adding or storing.
    public func decodePayload(
        _ format: WireCodec.Format, count: Int, into target: UnsafeMutableRawPointer, accumulate: Bool
    ) {
        message.withFrame(1) { payload in
            WireCodec.decode(format, from: payload.baseAddress!, count: count, into: target, accumulate: accumulate)
        }
    }

    private static func apply(
        _ message: borrowing ZMQMessage, reduce: Bool, into target: UnsafeMutableRawPointer, count: Int
    ) {
        let body: (UnsafeRawBufferPointer) -> Void = { payload in
            if reduce {
                ReductionKernel.sum(into: target, from: payload.baseAddress!, count: count)
            } else {
                target.copyMemory(from: payload.baseAddress!, byteCount: payload.count)
            }
        }
        message.withFrame(1, body)
    }
}
