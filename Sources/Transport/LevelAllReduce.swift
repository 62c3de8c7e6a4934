import Collectives

/// One all-reduce of part of a device's buffer, level by level, as the cluster's bench and sync
/// steps and the training buckets all run it: the shared-memory reduce-scatter inside the worker
/// (hierarchical plans), each phase of the plan over the data plane (`ClusterCollective.phases`:
/// the region's ring, the regions' all-reduce, or one flat all-reduce), and the shared-memory
/// all-gather; each level timed.
public enum LevelAllReduce {
    /// Seconds spent at each level; `total` from the first level's start to the last's end.
    public struct Times: Sendable, Equatable {
        public var host = 0.0
        public var region = 0.0
        public var wan = 0.0
        /// A flat all-reduce over every rank (neither region nor WAN alone).
        public var flat = 0.0
        public var total = 0.0
        public init() {}
    }

    /// All-reduces `count` floats from `offset` of device `device`'s buffer in `group` (summed,
    /// not averaged). Each phase uses the next collective id from `collective`, which is left
    /// after the last phase's. `acrossRegions: false` stops at the region: an all-reduce inside
    /// each region, whatever the regions' sizes. `compression` applies to every phase but the
    /// region's.
    public static func run(
        _ choice: ClusterPlanner.Choice, layout: ClusterLayout, device: Int, group: DeviceGroup, plane: DataPlane,
        offset: Int = 0, count: Int, collective: inout UInt64, step: UInt64, timeout: Duration,
        compression: WireCompression? = nil, acrossRegions: Bool = true
    ) throws -> Times {
        let buffer = group.base(device) + offset * 4
        // The schedules are built before the clock starts: only the communication is timed.
        let phases = ClusterCollective.phases(
            choice: choice, layout: layout, rank: plane.rank, device: device, count: count,
            slice: group.slice(device, of: count), acrossRegions: acrossRegions)
        var times = Times()
        let start = ContinuousClock.now
        var mark = start
        func lap() -> Double {
            let now = ContinuousClock.now
            defer { mark = now }
            return (now - mark).inSeconds
        }
        if choice.hierarchical {
            try group.reduceScatter(device: device, offset: offset, count: count, timeout: timeout)
            times.host += lap()
        }
        for phase in phases {
            defer { collective += 1 }
            try ScheduleExecutor.run(
                phase.schedule, buffer: buffer, elementCount: count, on: plane, collectiveID: collective,
                step: step, timeout: timeout, compression: phase.level == .region ? nil : compression)
            switch phase.level {
            case .region: times.region += lap()
            case .wan: times.wan += lap()
            case .flat: times.flat += lap()
            }
        }
        if choice.hierarchical {
            try group.allGather(device: device, offset: offset, count: count, timeout: timeout)
            times.host += lap()
        }
        times.total = (ContinuousClock.now - start).inSeconds
        return times
    }

}
