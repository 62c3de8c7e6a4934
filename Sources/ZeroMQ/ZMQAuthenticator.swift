import CZeroMQ
import Foundation
import Synchronization

/// A ZAP handler (ZeroMQ RFC 27) for one context: every CURVE server socket of the context asks
/// it about each connecting peer, and it admits only the public keys it was given. It answers on
/// a thread of its own (a REP socket on `inproc://zeromq.zap.01`) until stopped. Refusals go to
/// `refused` with the peer's address and key, for the caller to log (at a rate it chooses).
public final class ZMQAuthenticator: @unchecked Sendable {
    // Unchecked Sendable: `allowed` is immutable; `stopping` is atomic; the thread owns the socket.
    private let allowed: Set<[UInt8]>
    private let stopping = Atomic<Bool>(false)
    private let stopped = DispatchSemaphore(value: 0)
    public let refusedCount = Atomic<Int>(0)

    /// Starts answering for `context`, admitting the CURVE public keys in `allowed` (32 bytes each).
    public init(
        context: ZMQContext = .shared, allowed: Set<[UInt8]>,
        refused: @escaping @Sendable (_ address: String, _ key: String) -> Void
    ) throws(ZMQError) {
        self.allowed = allowed
        var socket = try ZMQSocket(.rep, context: context, linger: .zero)
        _ = try socket.bind("inproc://zeromq.zap.01")
        let box = Box(socket)
        let thread = Thread { [self] in
            self.serve(box, refused: refused)
            self.stopped.signal()
        }
        thread.name = "zap"
        thread.start()
    }

    /// Stops answering (within 100 ms); later connections are then refused by libzmq.
    public func stop() {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        _ = stopped.wait(timeout: .now() + .seconds(1))
    }

    deinit { stop() }

    private final class Box: @unchecked Sendable {
        var socket: ZMQSocket
        init(_ socket: consuming ZMQSocket) { self.socket = socket }
    }

    private static func receive(_ box: Box) -> [[UInt8]]? {
        do {
            let request = try box.socket.blockingReceive(timeout: .milliseconds(100))
            return (0..<request.count).map { request.bytes($0) }
        } catch {
            return nil
        }
    }

    private func serve(_ box: Box, refused: @Sendable (String, String) -> Void) {
        while !stopping.load(ordering: .relaxed) {
            // version, request id, domain, address, routing id, mechanism, credentials...
            guard let frames = Self.receive(box) else { continue }
            guard frames.count >= 6 else { continue }
            let mechanism = String(decoding: frames[5], as: UTF8.self)
            let key = frames.count >= 7 ? frames[6] : []
            let admit =
                String(decoding: frames[0], as: UTF8.self) == "1.0" && mechanism == "CURVE" && allowed.contains(key)
            if !admit {
                refusedCount.add(1, ordering: .relaxed)
                refused(
                    String(decoding: frames[3], as: UTF8.self),
                    mechanism == "CURVE" ? ZMQCurveKeyPair.z85(key) : mechanism)
            }
            var reply = ZMQMessage()
            reply.append(Array("1.0".utf8))
            reply.append(frames[1])
            reply.append(Array((admit ? "200" : "400").utf8))
            reply.append(Array((admit ? "OK" : "not a key of this cluster").utf8))
            reply.append([UInt8]())
            reply.append([UInt8]())
            _ = try? box.socket.blockingSend(reply, timeout: .seconds(1))
        }
    }
}

extension ZMQCurveKeyPair {
    /// The 32 bytes a Z85 key (40 characters) stands for, or nil if it is not one.
    public static func bytes(_ z85: String) -> [UInt8]? {
        let text = Array(z85.utf8)
        guard text.count == 40 else { return nil }
        var key = [UInt8](repeating: 0, count: 32)
        let decoded = text.withUnsafeBufferPointer { chars in
            (chars.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer {
                zmq_z85_decode(&key, $0.baseAddress!)
            }
        }
        return decoded == nil ? nil : key
    }

    /// A 32-byte key in Z85 (40 characters); other lengths in hexadecimal.
    public static func z85(_ key: [UInt8]) -> String {
        guard key.count == 32 else { return key.map { String(format: "%02x", $0) }.joined() }
        var text = [CChar](repeating: 0, count: 41)
        _ = key.withUnsafeBufferPointer { zmq_z85_encode(&text, $0.baseAddress!, 32) }
        return String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
