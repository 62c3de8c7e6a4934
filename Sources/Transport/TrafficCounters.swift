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
    /// How late waiting ranks took messages after they arrived (`HeldMessage.arrivesAt`), by the
    /// sender's region; and each rank's region, from the plan.
    private let arrivals = Mutex<(byRegion: [Int: LatenessHistogram], regionOfRank: [Int])>(([:], []))
    /// Arrival lateness is kept to 10 ms (later ones share the last bucket).
    public static let arrivalLimitMicroseconds = 10_000

    public init() {}

    public func sent(to peer: Int, bytes: Int) {
        byPeer.withLock { table in
            table[peer, default: Totals()].sentBytes += bytes
            table[peer, default: Totals()].sentMessages += 1
        }
    }

    public func received(from peer: Int, bytes: Int) {
        byPeer.withLock { table in
            table[peer, default: Totals()].receivedBytes += bytes
            table[peer, default: Totals()].receivedMessages += 1
        }
    }

    /// Each rank's region, so that arrivals are counted by the sender's region.
    public func setRegions(_ regionOfRank: [Int]) {
        arrivals.withLock { $0.regionOfRank = regionOfRank }
    }

    /// A message from `peer` was taken `nanoseconds` after it arrived (0 or less: on time).
    public func arrived(from peer: Int, lateBy nanoseconds: Int64) {
        arrivals.withLock { table in
            let region = table.regionOfRank.indices.contains(peer) ? table.regionOfRank[peer] : -1
            table.byRegion[region, default: LatenessHistogram(limitMicroseconds: Self.arrivalLimitMicroseconds)].record(
                nanoseconds: nanoseconds)
        }
    }

    /// Arrival lateness so far, by the sender's region (-1: a rank the plan did not place).
    public func arrivalSnapshot() -> [Int: LatenessHistogram] { arrivals.withLock { $0.byRegion } }

    /// Totals so far, by peer rank.
    public func snapshot() -> [Int: Totals] { byPeer.withLock { $0 } }
}
