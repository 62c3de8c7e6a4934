import CStraitsShims
import Collectives
import Foundation
import Logging
import StraitsWire
import Synchronization

/// One rank's data plane between processes of one host (`--transport shm`): a ring in shared
/// memory per peer and direction (`SharedRing`) and a doorbell (`SharedBell`) the rank sleeps on
/// when it has nothing to do. Payloads cross in two copies, as over a socket, but with no system
/// call and no other thread on the way: the sender copies a fragment into the ring, the receiver
/// reduces it straight out of the ring into its buffer, and fragments of one message overlap.
///
/// With a shared buffer (`sharedBufferBytes`), the rank's buffer is a file too (`…-buffer`),
/// which every peer maps, for the direct all-reduce (`HostAllReduce`).
///
/// The rank's endpoint, `shm://straits-shm-PID-N`, names its files: the bell (`…-bell`, made
/// here) and one incoming ring per sender (`…-from-RANK`, made by whichever end maps it first).
/// A ring's pages are allocated by the end that maps it first: the receiver, where it connects
/// first (its device thread is pinned to its NUMA node).
public final class SharedMemoryPlane: FragmentPlane, @unchecked Sendable {
    // Unchecked Sendable: made on, and used only by, the device thread that owns the rank.
    public let rank: Int
    public let endpoint: String
    let token: String
    let bell: SharedBell
    let ringCapacity: Int
    /// The largest payload one record carries: a quarter of the ring, so that the sender fills
    /// one fragment while the receiver reduces another.
    let fragmentBytes: Int
    private(set) var outgoing: [Int: (ring: SharedRing, bell: SharedBell)] = [:]
    /// Each peer's ring to this rank, in the order they connected (walked on every turn).
    private(set) var incoming: [(peer: Int, ring: SharedRing)] = []
    /// The rank's buffer in shared memory and the direct all-reduce over it, where asked for.
    public let host: HostAllReduce?

    /// How long a rank with nothing to do polls its rings before it sleeps on its bell. Long,
    /// as Open MPI's progress loop is: a futex wake-up of a thread on an idle core took 100–300 µs
    /// here (measured), longer than a whole 64 KiB all-reduce.
    public var spin: Duration = .milliseconds(2)
    /// Whether the spinning yields the core to other threads (set where a host has more ranks
    /// than cores, so that the peer a rank waits for gets to run).
    public var yieldsWhileSpinning = false
    public var epoch: UInt32 = 0
    public let early = EarlyStore()
    /// Malformed or unexpected records dropped so far.
    public private(set) var rejected = 0

    private static let counter = Atomic<Int>(0)
    /// What the names of process `pid`'s shared-memory files begin with.
    public static func filePrefix(of pid: pid_t) -> String { "straits-shm-\(pid)-" }

    /// The default ring: 2 MiB, records of up to 508 KiB.
    public static let defaultRingCapacity = 2 << 20

    /// A plane whose rings hold `ringCapacity` bytes; with `sharedBufferBytes`, the rank's
    /// buffer of that many bytes in shared memory, which peers made alike map.
    public init(
        rank: Int, ringCapacity: Int = SharedMemoryPlane.defaultRingCapacity, sharedBufferBytes: Int? = nil
    ) throws {
        self.rank = rank
        self.ringCapacity = ringCapacity
        fragmentBytes =
            ringCapacity / 4 - SharedRing.recordHeaderBytes - (ringCapacity >= SharedRing.gappedCapacity ? 4096 : 0)
        token = Self.filePrefix(of: getpid()) + "\(Self.counter.add(1, ordering: .relaxed).oldValue)"
        endpoint = "shm://" + token
        let bell = try SharedBell(name: token + "-bell")
        self.bell = bell
        do {
            host = try sharedBufferBytes.map { [token] in
                try HostAllReduce(rank: rank, token: token, bytes: $0, bell: bell)
            }
        } catch {
            bell.mapping.unlink()  // no deinit runs for a plane that was never made
            throw error
        }
    }

    deinit {
        bell.mapping.unlink()
        for (_, ring) in incoming { ring.mapping.unlink() }
    }

    /// The token of a peer's endpoint, checked: `shm://` and a name of letters, digits and `-`.
    static func token(of endpoint: String) throws -> String {
        guard endpoint.hasPrefix("shm://") else {
            throw RuntimeError(.invalidArgument, "not a shared-memory endpoint: \"\(endpoint)\"")
        }
        let token = String(endpoint.dropFirst("shm://".count))
        guard !token.isEmpty, token.count <= 64,
            token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
        else {
            throw RuntimeError(
                .invalidArgument, "shared-memory endpoint \"\(endpoint)\": a name of letters, digits and -")
        }
        return token
    }

    /// Maps the rings to and from `peer`, whose endpoint is `endpoint`, and its bell. Every page
    /// is mapped at once (MAP_POPULATE), so that no fault lands in a measured collective; the
    /// incoming ring first, so that where this rank maps it first its pages are allocated on the
    /// node of this (pinned) thread.
    public func connect(peer: Int, endpoint: String) throws {
        guard outgoing[peer] == nil else { return }
        let theirs = try Self.token(of: endpoint)
        let into = try SharedRing(name: "\(token)-from-\(peer)", capacity: ringCapacity, peer: peer, producer: false)
        let peerBell = try SharedBell(name: theirs + "-bell")
        let out = try SharedRing(name: "\(theirs)-from-\(rank)", capacity: ringCapacity, peer: peer, producer: true)
        try host?.connect(peer: peer, token: theirs, bell: peerBell)
        outgoing[peer] = (out, peerBell)
        incoming.append((peer, into))
    }

    /// The direct all-reduce of `range` over ranks `0..<ranks` through the shared buffers
    /// (`HostAllReduce`), waiting as the plane's rings do.
    public func allReduceDirect(range: ElementRange, ranks: Int, timeout: Duration) throws {
        guard let host else {
            throw RuntimeError(.invalidArgument, "rank \(rank): the direct all-reduce needs a shared buffer")
        }
        try host.allReduce(range: range, ranks: ranks, spin: spin, yields: yieldsWhileSpinning, timeout: timeout)
    }

    /// Peers whose rings were written to since the last flush.
    private var written: Set<Int> = []

    public func write(to peer: Int, header: DataFrameHeader, payload: UnsafeRawBufferPointer, sent: inout Int) throws
        -> Bool
    {
        guard let ring = outgoing[peer]?.ring else {
            throw RuntimeError(.outOfOrder, "rank \(rank): no shared-memory ring to rank \(peer)")
        }
        var free = try ring.freeBytes()
        repeat {
            let target = Int(header.offsetBytes) + sent
            let gap = ring.gap(towards: target)
            let room = free - SharedRing.recordHeaderBytes - gap
            guard room >= 0 else { return false }
            let count = min(payload.count - sent, fragmentBytes, room & ~63)
            // Waits for room for a whole fragment (or the rest), not a sliver.
            guard count == payload.count - sent || count >= min(fragmentBytes, 64 << 10) else { return false }
            ring.write(
                header: header, fragmentStart: sent,
                payload: UnsafeRawBufferPointer(rebasing: payload[sent..<(sent + count)]), gap: gap)
            free -= SharedRing.recordBytes(payload: count, gap: gap)
            sent += count
            written.insert(peer)
        } while sent < payload.count
        return true
    }

    public func flush() {
        for peer in written {
            guard let (ring, bell) = outgoing[peer] else { continue }
            ring.publish()
            bell.ring()
        }
        written.removeAll(keepingCapacity: true)
    }

    public func poll(_ deliver: (Fragment) throws -> Void) throws -> Bool {
        var progressed = false
        for (peer, ring) in incoming {
            var consumed = false
            while let record = try ring.next() {
                try deliver(
                    Fragment(
                        peer: peer, header: record.header, start: record.fragmentStart, first: record.first,
                        second: record.second))
                ring.consume(record)
                consumed = true
            }
            if consumed {
                outgoing[peer]?.bell.ring()
                progressed = true
            }
        }
        return progressed
    }

    public func sleep(nanoseconds: Int64, unless changed: () throws -> Bool) throws {
        try bell.sleep(nanoseconds: nanoseconds, unless: changed)
    }

    /// Counts a dropped record and says why on standard error (the first 20, then every 1000th).
    public func reject(_ reason: String) {
        rejected += 1
        if ControlLink.isLogged(rejected) {
            Logger(label: "straits").warning(
                "rank \(rank): dropped a shared-memory record (\(rejected) so far): \(reason)")
        }
    }

    /// Removes the shared-memory files a process left behind (one stopped by a signal does not
    /// remove its own).
    public static func removeFiles(ofProcess pid: pid_t) {
        let prefix = filePrefix(of: pid)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? []
        for name in names where name.hasPrefix(prefix) { _ = straits_shm_unlink(name) }
    }
}
