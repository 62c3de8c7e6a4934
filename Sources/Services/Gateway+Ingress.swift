import CStraitsShims
import Collectives
import Config
import Emulation
import Foundation
import Logging
import NUMA
import StraitsWire
import Transport
import ZeroMQ

extension Gateway {
    /// Reads one link's ingress while its queue has room; each message goes into the link model.
    static func ingressLoop(destination: Int, socket: SocketBox, state: State) {
        // Real-time too (below the delivery thread): it holds the shared lock briefly, and must
        // not be preempted while the delivery thread waits for it.
        _ = straits_set_realtime(29)
        _ = straits_set_thread_name("gw-ingress")
        var rejected = 0
        while true {
            state.condition.lock()
            while !state.stopping && !(state.planned && state.scheduler.canAccept(destination)) {
                _ = state.condition.wait(until: Date(timeIntervalSinceNow: 0.1))
            }
            let stopping = state.stopping
            state.condition.unlock()
            if stopping { return }

            let received: Result<ZMQMessage, ZMQError> = Result { () throws(ZMQError) -> ZMQMessage in
                try socket.socket.blockingReceive(timeout: .milliseconds(100))
            }
            let message: ZMQMessage
            switch consume received {
            case .success(let got): message = got
            case .failure(let error):
                if error.code == .timedOut { continue }
                Logger(label: "straits-gateway").error("ingress: \(error)")
                return
            }
            // Frames: route, data header, payload.
            var reason: String?
            let receivedAt = SystemClock.shared.now()
            var destinationRank = -1
            var sourceRank = -1
            var sentAt: Int64?
            if message.count != 3 {
                reason = "\(message.count) frames, expected 3 (route, header, payload)"
            } else if let route = message.withFrame(0, { GatewayRoute.parse($0) }) {
                destinationRank = route.destination
                sentAt = route.sentAt
                do {
                    let header = try message.withFrame(1) { try DataFrameHeader(decoding: $0) }
                    sourceRank = Int(header.sourceRank)
                } catch {
                    reason = "\(error)"
                }
            } else {
                reason = "no route frame (24 or 8 bytes, magic STRG)"
            }
            let bytes = message.count == 3 ? message.frameSize(1) + message.frameSize(2) : 0
            state.condition.lock()
            if reason == nil, state.regionOfRank[destinationRank] != destination {
                reason = "rank \(destinationRank) is not in the region this ingress serves"
            }
            if let reason {
                state.rejected += 1
                state.condition.unlock()
                rejected += 1
                if ControlLink.isLogged(rejected) {
                    Logger(label: "straits-gateway").warning("dropped a message (\(rejected) so far): \(reason)")
                }
                continue
            }
            let id = state.nextMessage
            state.nextMessage += 1
            state.held[id] = Held(message, destination: destinationRank)
            state.scheduler.offer(
                message: id, to: destination, flow: sourceRank << 32 | destinationRank, bytes: bytes, now: receivedAt,
                sentAt: sentAt)
            state.condition.broadcast()
            state.condition.unlock()
        }
    }
}
