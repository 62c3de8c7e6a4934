/// The message-passing phases of one rank's all-reduce in a cluster, as the worker runs them
/// and the simulator predicts them: for `hier`, the region reduce-scatter, the wan all-reduce of
/// the owned part and the region all-gather (the shared-memory levels around them are not
/// messages); for a flat plan, one schedule over every rank.
public enum ClusterCollective {
    public struct Phase: Sendable {
        public enum Level: String, Sendable { case region, wan, flat }
        public let level: Level
        public let schedule: CollectiveSchedule
    }

    /// The phases of `rank` (device `device` of its worker) for an all-reduce of `count`
    /// float32 elements, slice `slice` of which the rank owns after the shared-memory level.
    /// `acrossRegions: false` stops at the region (its reduce-scatter and all-gather: an
    /// all-reduce inside each region, whatever the regions' sizes).
    public static func phases(
        choice: ClusterPlanner.Choice, layout: ClusterLayout, rank: Int, device: Int, count: Int,
        slice: ElementRange, acrossRegions: Bool = true
    ) -> [Phase] {
        let ranks = layout.ranks
        guard choice.hierarchical else {
            var schedule = CollectiveSchedule(rank: rank, ranks: ranks)
            choice.algorithm.appendFlat(
                to: &schedule, group: Array(0..<ranks), range: ElementRange(offset: 0, count: count),
                chunkElements: max(1, choice.chunkBytes / 4))
            return [Phase(level: .flat, schedule: schedule)]
        }
        guard device < layout.streams else {
            // A device beyond the streams owns no slice: no messages, but the same phases (and
            // so the same collective ids) as its worker's other devices.
            let empty = CollectiveSchedule(rank: rank, ranks: ranks)
            return (acrossRegions ? [Phase.Level.region, .wan, .region] : [.region, .region]).map {
                Phase(level: $0, schedule: empty)
            }
        }
        let worker = layout.worker(ofRank: rank)
        let regionGroup = layout.regionGroup(worker: worker, device: device)
        let regionChunk = max(1, choice.regionChunkBytes / 4)
        var reduceScatter = CollectiveSchedule(rank: rank, ranks: ranks)
        let owned = RingAllReduce.appendReduceScatter(
            to: &reduceScatter, group: regionGroup, range: slice,
            chunkElements: regionChunk, level: 1)
        var allGather = CollectiveSchedule(rank: rank, ranks: ranks)
        RingAllReduce.appendAllGather(
            to: &allGather, group: regionGroup, range: slice, chunkElements: regionChunk, level: 1)
        guard acrossRegions else {
            return [Phase(level: .region, schedule: reduceScatter), Phase(level: .region, schedule: allGather)]
        }
        var wan = CollectiveSchedule(rank: rank, ranks: ranks)
        if layout.isUniform {
            choice.algorithm.appendFlat(
                to: &wan, group: layout.wanGroup(worker: worker, device: device), range: owned,
                chunkElements: max(1, choice.chunkBytes / 4))
        } else {
            appendUnevenWAN(
                to: &wan, layout: layout, device: device, slice: slice, owned: owned, algorithm: choice.algorithm,
                chunkElements: max(1, choice.chunkBytes / 4))
        }
        return [
            Phase(level: .region, schedule: reduceScatter), Phase(level: .wan, schedule: wan),
            Phase(level: .region, schedule: allGather),
        ]
    }

    /// The all-reduce between regions of different sizes. Each region's reduce-scatter leaves
    /// each of its hosts one segment of the slice (`RingAllReduce.ownedSegment`), and the
    /// segments of regions of different sizes do not line up: the slice is cut at every region's
    /// segment boundaries, and each piece is all-reduced among its owners, one rank per region.
    /// A rank takes part in the pieces of its own segment; each piece's messages carry the
    /// piece's index in their tags, so two pieces between the same ranks never match.
    static func appendUnevenWAN(
        to schedule: inout CollectiveSchedule, layout: ClusterLayout, device: Int, slice: ElementRange,
        owned: ElementRange, algorithm: AllReduceAlgorithm, chunkElements: Int
    ) {
        let regions = layout.workersByRegion.map { workers in workers.map { layout.rank(worker: $0, device: device) } }
        var cuts = Set([slice.offset, slice.end])
        for members in regions { for segment in slice.split(into: members.count) { cuts.insert(segment.offset) } }
        let bounds = cuts.sorted()
        for (index, (low, high)) in zip(bounds, bounds.dropFirst()).enumerated() where high > low {
            let piece = ElementRange(offset: low, count: high - low)
            guard piece.offset >= owned.offset && piece.end <= owned.end else { continue }
            // Its owner in every region: the host whose segment holds it.
            let group = regions.map { members -> Int in
                let p = members.count
                let segment = slice.split(into: p).firstIndex { $0.offset <= piece.offset && piece.end <= $0.end }!
                return members[(segment - 1 + p) % p]
            }
            var part = CollectiveSchedule(rank: schedule.rank, ranks: schedule.ranks)
            algorithm.appendFlat(to: &part, group: group, range: piece, chunkElements: chunkElements)
            // The piece's index in bits 20–31 of the tag, above the chunk's (at most 2^20 chunks).
            precondition(index < 1 << 12, "\(index) pieces between regions: at most 4096")
            let base = schedule.operations.count
            for operation in part.operations {
                precondition(operation.tag & 0xFFF0_0000 == 0, "a piece of more than 2^20 chunks")
                schedule.add(
                    operation.kind, operation.range, tag: operation.tag | UInt64(index) << 20,
                    after: operation.dependencies.map { base + $0 })
            }
        }
    }

    /// Device `device`'s slice of `count` elements among `devices` (what `DeviceGroup.slice` gives);
    /// empty for a device beyond them.
    public static func slice(device: Int, devices: Int, count: Int) -> ElementRange {
        guard device < devices else { return ElementRange(offset: 0, count: 0) }
        return ElementRange(offset: 0, count: count).split(into: devices)[device]
    }
}
