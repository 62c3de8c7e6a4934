import Synchronization

/// Bytes a rank has sent to and received from each peer, header frames included. Written by the
/// device thread, read by the worker's control thread for its heartbeats.
public final class TrafficCounters: Sendable {
    public struct Totals: Sendable, Equatable {
        public var sentBytes = 0
        public var receivedBytes = 0
        public var sentMessages = 0
        public var receivedMessages = 0
    }

    private let byPeer = Mutex<[Int: Totals]>([:])

    public init() {}

    func sent(to peer: Int, bytes: Int) {
        byPeer.withLock { table in
            table[peer, default: Totals()].sentBytes += bytes
            table[peer, default: Totals()].sentMessages += 1
        }
    }

    func received(from peer: Int, bytes: Int) {
        byPeer.withLock { table in
            table[peer, default: Totals()].receivedBytes += bytes
            table[peer, default: Totals()].receivedMessages += 1
        }
    }

    /// Totals so far, by peer rank.
    public func snapshot() -> [Int: Totals] { byPeer.withLock { $0 } }
}
