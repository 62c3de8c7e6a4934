import CStraitsShims
import Collectives
import Foundation

/// The all-reduce of the ranks of one host straight through each other's buffers
/// (`--algo direct`, over `--transport shm`). Each rank's buffer is a shared-memory file that
/// every other rank of the host maps, so the reduce-scatter is owner-computes, as between a
/// worker's device threads (`DeviceGroup`): rank `r` adds slice `r` of every other rank's
/// buffer into its own, a cache-sized block at a time; the all-gather copies each slice from
/// the rank that owns it. Each byte is read once from where it lies and nothing passes through
/// a ring. Three barriers order it: all inputs ready, all slices reduced, all slices copied
/// (after which each rank may change its buffer again).
///
/// A barrier is a counter per rank in the rank's bell file (`SharedBell.arrived`): a rank
/// raises its own, rings every peer's bell, and waits, polling for `spin` and then asleep on
/// its own bell, until every peer's counter has come as far, or the deadline passes. A peer's
/// counter is read like bytes from a socket: one that runs ahead of where this rank can be is
/// an error.
///
/// The buffer's pages are allocated, all at once, by the rank that makes its file, from the
/// node of the thread that makes it: the rank's own thread, pinned to its node (the plane is
/// made there). A peer that shrinks a file the others map makes their next access fault, as
/// with the rings: the ranks of a host trust each other that far (one user's processes).
public final class HostAllReduce {
    /// Elements per block of the reduction: 64 KiB, so that the rank's block stays in its core's
    /// cache while it adds each peer's.
    static let blockElements = 16 << 10

    public let rank: Int
    /// The bytes of each rank's buffer.
    public let bytes: Int
    let own: SharedMapping
    let bell: SharedBell
    /// Each peer's buffer and bell, by rank, once connected.
    private var peers: [Int: (buffer: SharedMapping, bell: SharedBell)] = [:]
    /// The barriers this rank has entered.
    private var generation: UInt64 = 0

    /// The rank's buffer: `bytes` bytes, page-aligned, zeros at first.
    public var base: UnsafeMutableRawPointer { own.base }

    init(rank: Int, token: String, bytes: Int, bell: SharedBell) throws {
        self.rank = rank
        self.bytes = bytes
        self.bell = bell
        let name = "\(token)-buffer"
        do {
            own = try SharedMapping(name: name, bytes: max(bytes, 1))
        } catch {
            _ = straits_shm_unlink(name)
            throw error
        }
    }

    deinit { own.unlink() }

    /// Maps `peer`'s buffer (its file is named after its endpoint's token); it has this rank's size.
    func connect(peer: Int, token: String, bell peerBell: SharedBell) throws {
        guard peers[peer] == nil else { return }
        peers[peer] = (try SharedMapping(name: "\(token)-buffer", bytes: max(bytes, 1)), peerBell)
    }

    /// Sums `range` of the buffers of ranks `0..<ranks` (this rank and the peers it connected
    /// to) into every one of them. Throws if a peer is missing, misbehaves or is late past the
    /// deadline.
    public func allReduce(
        range: ElementRange, ranks: Int, spin: Duration, yields: Bool, timeout: Duration
    ) throws {
        precondition(range.end * 4 <= bytes, "all-reduce of \(range) in buffers of \(bytes) bytes")
        let deadline = ContinuousClock.now + timeout
        let others = try (0..<ranks).filter { $0 != rank }.map { peer in
            guard let mapped = peers[peer] else {
                throw RuntimeError(.outOfOrder, "rank \(rank): no shared buffer of rank \(peer) to reduce from")
            }
            return (peer, mapped.buffer.base, mapped.bell)
        }
        let bells = others.map(\.2)
        let wait = { (what: String) in
            try self.barrier(what, peers: others.map(\.0), bells: bells, spin: spin, yields: yields, deadline: deadline)
        }
        try wait("inputs ready")
        let slices = range.split(into: ranks)
        let mine = slices[rank]
        var done = 0
        while done < mine.count {
            let count = min(Self.blockElements, mine.count - done)
            let offset = (mine.offset + done) * 4
            for (_, buffer, _) in others {
                ReductionKernel.sum(into: base + offset, from: buffer + offset, count: count)
            }
            done += count
        }
        try wait("slices reduced")
        for (peer, buffer, _) in others where slices[peer].count > 0 {
            let offset = slices[peer].offset * 4
            (base + offset).copyMemory(from: buffer + offset, byteCount: slices[peer].count * 4)
        }
        try wait("slices gathered")
    }

    /// Raises this rank's counter, rings the peers, and waits for theirs.
    private func barrier(
        _ what: String, peers ranks: [Int], bells: [SharedBell], spin: Duration, yields: Bool,
        deadline: ContinuousClock.Instant
    ) throws {
        generation += 1
        let target = generation
        straits_store_release_u64(bell.arrived, target)
        for peer in bells { peer.ring() }
        func arrived() throws -> Bool {
            var all = true
            for (index, peer) in bells.enumerated() {
                let counter = straits_load_acquire_u64(peer.arrived)
                // A peer can be at most one barrier ahead: it cannot pass this one without this rank.
                guard counter <= target + 1 else {
                    throw RuntimeError(
                        .protocolViolation,
                        "rank \(rank): rank \(ranks[index])'s barrier counter is \(counter) while this rank waits at \(target) (\(what))"
                    )
                }
                if counter < target { all = false }
            }
            return all
        }
        if try RankWait.spin(for: spin, yields: yields, until: arrived) { return }
        while try !arrived() {
            guard let nanoseconds = RankWait.sleepNanoseconds(before: deadline) else {
                let late = bells.indices.filter { straits_load_acquire_u64(bells[$0].arrived) < target }.map {
                    ranks[$0]
                }
                throw RuntimeError(
                    .timedOut, "rank \(rank): the direct all-reduce timed out waiting for ranks \(late) (\(what))")
            }
            try bell.sleep(nanoseconds: nanoseconds) { try arrived() }
        }
    }
}
