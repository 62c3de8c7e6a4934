import StraitsWire

/// The all-reduce a cluster runs for one message size: `hier` (shared memory inside each worker,
/// a ring reduce-scatter among the region's hosts, an all-reduce among the regions on each
/// owned part, then the all-gathers) or a flat algorithm over every rank.
public struct ClusterPlanner: Sendable {
    public struct Choice: Sendable, Equatable, CustomStringConvertible {
        public let hierarchical: Bool
        /// Hierarchical: ring chunk of the region level, bytes.
        public let regionChunkBytes: Int
        /// Hierarchical: the wan level's algorithm and chunk; flat: the algorithm over all ranks.
        public let algorithm: AllReduceAlgorithm
        public let chunkBytes: Int
        public let regionHosts: Int
        public let regions: Int
        public let devices: Int

        public init(
            hierarchical: Bool, regionChunkBytes: Int, algorithm: AllReduceAlgorithm, chunkBytes: Int, regionHosts: Int,
            regions: Int, devices: Int
        ) {
            self.hierarchical = hierarchical
            self.regionChunkBytes = regionChunkBytes
            self.algorithm = algorithm
            self.chunkBytes = chunkBytes
            self.regionHosts = regionHosts
            self.regions = regions
            self.devices = devices
        }

        public var description: String {
            guard hierarchical else {
                return
                    "flat \(algorithm) over \(regionHosts * regions * devices) ranks, chunk \(AllReducePlan.formatBytes(chunkBytes))"
            }
            var levels: [String] = []
            if devices > 1 { levels.append("host shm×\(devices)") }
            if regionHosts > 1 {
                levels.append("region ring×\(regionHosts) chunk \(AllReducePlan.formatBytes(regionChunkBytes))")
            }
            if regions > 1 {
                levels.append("wan \(algorithm)×\(regions) chunk \(AllReducePlan.formatBytes(chunkBytes))")
            }
            return "hier: " + (levels.isEmpty ? "one rank" : levels.joined(separator: ", "))
        }
    }

    public let layout: ClusterLayout
    public let lan: LinkCost
    public let wan: LinkCost
    public let algo: ClusterAlgorithm
    /// Overrides every chunk size when set.
    public let chunkBytes: Int?

    public init(layout: ClusterLayout, lan: LinkCost, wan: LinkCost, algo: ClusterAlgorithm, chunkBytes: Int? = nil) {
        self.layout = layout
        self.lan = lan
        self.wan = wan
        self.algo = algo
        self.chunkBytes = chunkBytes
    }

    /// The all-reduce for `bytes`; `chunkBytes`, when given, overrides every chunk size for this
    /// size alone (the coordinator's model-chosen chunk), as the planner's own override does.
    public func choose(bytes: Int, chunkBytes stepChunk: Int? = nil) -> Choice {
        let chunkBytes = stepChunk ?? self.chunkBytes
        let regionHosts = layout.workersByRegion.map(\.count).max() ?? 1
        let regions = layout.regions.count
        let devices = layout.streams
        let hierarchical = algo == .hier || (algo == .auto && layout.isUniform)
        if hierarchical {
            let slice = bytes / max(devices, 1)
            let owned = slice / max(regionHosts, 1)
            let wanPlan = AllReducePlanner(link: wan).plan(
                bytes: owned, workers: regions, devicesPerWorker: 1, chunkBytes: chunkBytes)
            return Choice(
                hierarchical: true,
                regionChunkBytes: chunkBytes ?? AllReducePlanner.ringChunkBytes(segmentBytes: owned),
                algorithm: wanPlan.algorithm, chunkBytes: wanPlan.chunkBytes,
                regionHosts: regionHosts, regions: regions, devices: devices)
        }
        let flat = AllReducePlanner(link: wan).plan(
            bytes: bytes, workers: layout.ranks, devicesPerWorker: 1,
            algorithm: algo == .ring ? .ring : nil, chunkBytes: chunkBytes)
        return Choice(
            hierarchical: false, regionChunkBytes: 0, algorithm: flat.algorithm, chunkBytes: flat.chunkBytes,
            regionHosts: regionHosts, regions: regions, devices: devices)
    }

    /// The chunk sizes worth modelling for `bytes` when the job fixes none: powers of two from
    /// 64 KiB up to the planner's own choice (which is always among them). Smaller chunks
    /// pipeline a step's hops more deeply at the cost of more messages; which wins depends on
    /// the links and on how busy the hosts are, so the coordinator asks its model.
    public func chunkCandidates(bytes: Int) -> [Int] {
        guard chunkBytes == nil else { return [] }
        let own = choose(bytes: bytes)
        let largest = max(own.chunkBytes, own.hierarchical ? own.regionChunkBytes : 0)
        var candidates: [Int] = []
        var chunk = 64 << 10
        while chunk < largest {
            candidates.append(chunk)
            chunk *= 2
        }
        return candidates
    }
}
