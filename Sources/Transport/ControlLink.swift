import Foundation
import Logging
import StraitsWire
import ZeroMQ

/// Sending and receiving control messages (envelope + JSON body, see `Protocols/control.md`),
/// with a routing-id frame in front on the coordinator's ROUTER.
public enum ControlLink {
    public static func send(
        _ message: ControlMessage, on socket: inout ZMQSocket, to route: [UInt8]? = nil,
        version: UInt16 = ControlMessage.protocolVersion
    ) throws {
        var frames = ZMQMessage()
        if let route { frames.append(route) }
        for frame in message.encoded(version: version) { frames.append(frame) }
        try socket.blockingSend(frames, timeout: .seconds(5))
    }

    /// Sends a message already encoded (`ControlMessage.PlanFrames`).
    public static func send(frames encoded: [[UInt8]], on socket: inout ZMQSocket, to route: [UInt8]? = nil) throws {
        var frames = ZMQMessage()
        if let route { frames.append(route) }
        for frame in encoded { frames.append(frame) }
        try socket.blockingSend(frames, timeout: .seconds(5))
    }

    /// The frames of the next message, or nil when `timeout` passes or `doorbell` rings first.
    public static func receiveFrames(
        on socket: inout ZMQSocket, timeout: Duration, wakingOn doorbell: ZMQDoorbell? = nil
    ) throws -> [[UInt8]]? {
        let result: Result<ZMQMessage?, ZMQError> = Result { () throws(ZMQError) -> ZMQMessage? in
            if let doorbell { return try socket.blockingReceive(timeout: timeout, wakingOn: doorbell) }
            return try socket.blockingReceive(timeout: timeout)
        }
        switch consume result {
        case .success(let message):
            guard let message else { return nil }
            return frames(of: message)
        case .failure(let error):
            if error.code == .timedOut { return nil }
            throw error
        }
    }

    /// The most frames a control message has: a routing id, the envelope and the body.
    public static let maximumFrames = 3

    /// The message's frames as bytes; past `maximumFrames`, only the first is copied (the
    /// sender's routing id, to name it) and the rest stand as empty frames, so that a message of
    /// many large frames is refused for its frame count without a copy of what it carries.
    private static func frames(of message: borrowing ZMQMessage) -> [[UInt8]] {
        guard message.count <= maximumFrames else {
            return [message.bytes(0)] + [[UInt8]](repeating: [], count: message.count - 1)
        }
        return (0..<message.count).map { message.bytes($0) }
    }

    /// Whether the `count`-th of a kind of refusal or drop goes to the log: the first 20 and
    /// every 1000th, so that a peer repeating one cannot fill the log.
    public static func isLogged(_ count: Int) -> Bool { count <= 20 || count % 1000 == 0 }

    /// Says on standard error that a message was dropped (the first 20, then every 1000th).
    public static func logDropped(_ who: String, count: Int, _ reason: String) {
        guard isLogged(count) else { return }
        Logger(label: who).warning("dropped a control message (\(count) so far): \(reason)")
    }
}
