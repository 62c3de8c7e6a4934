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
        choice.algorithm.appendFlat(
            to: &wan, group: layout.wanGroup(worker: worker, device: device), range: owned,
            chunkElements: max(1, choice.chunkBytes / 4))
        return [
            Phase(level: .region, schedule: reduceScatter), Phase(level: .wan, schedule: wan),
            Phase(level: .region, schedule: allGather),
        ]
    }

    /// Device `device`'s slice of `count` elements among `devices` (what `DeviceGroup.slice` gives).
    public static func slice(device: Int, devices: Int, count: Int) -> ElementRange {
        ElementRange(offset: 0, count: count).split(into: devices)[device]
    }
}
