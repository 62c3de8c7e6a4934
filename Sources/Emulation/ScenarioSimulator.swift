import Collectives
import Config
import StraitsWire

/// `straits simulate`: a scenario's training run, step by step in time, at the granularity its
/// scale needs.
///
/// - **Between regions**: each synchronisation across regions runs the ranks' own all-reduce
///   schedule (the algorithm and chunks the planner picks, `AllReducePlanner`) over the declared
///   links in `CollectiveSimulator`, the model the emulator is measured against, with each link
///   the gateways' `LinkModel` (bandwidth shared by the flows on it, latency, jitter, directed
///   links). One rank stands for a region: the region's replicas each carry a share of the
///   parameters, and all of them cross the region's links, so the links carry what one rank
///   holding the whole region's data would send. A link carries at most `streams × window`
///   bytes per round trip (one TCP stream's window).
/// - **Inside a region**: a ring over the region's replicas on the fabric, in closed form
///   (Hockney's `(n−1)(α + B/n·β)` per reduce-scatter or all-gather), exact for identical links.
/// - **Steps**: every inner step computes for the same time and every synchronisation of a kind
///   carries the same bytes, so one of each kind is simulated and the run is their sum over its
///   steps: exact without failures, independent of the step and replica counts.
public struct ScenarioSimulator {
    public let scenario: Scenario
    /// Chunks of the all-reduce between regions: at least 4 MiB, and at most 32 per segment of
    /// the ring (or step of halving-doubling), so that the simulation's cost does not grow with
    /// the model; nil for that rule.
    public var wanChunkBytes: Int?
    /// The all-reduce between regions; nil: the planner's choice.
    public var wanAlgorithm: AllReduceAlgorithm?

    public init(scenario: Scenario, wanChunkBytes: Int? = nil, wanAlgorithm: AllReduceAlgorithm? = nil) {
        self.scenario = scenario
        self.wanChunkBytes = wanChunkBytes
        self.wanAlgorithm = wanAlgorithm
    }

    /// One synchronisation across regions: how long it takes and what it sends.
    public struct Exchange: Sendable, Equatable {
        public var seconds: Double
        /// Bytes every region sends over its WAN links (headers included), summed.
        public var wanBytes: Double
        /// Seconds on the WAN alone (the rest is the fabric inside the regions).
        public var wanSeconds: Double
        /// Bytes all replicas send on their regions' fabrics, summed.
        public var fabricBytes: Double
        public var fabricSeconds: Double
        public var algorithm: String
    }

    public struct Level: Sendable, Equatable {
        /// Seconds the level's collectives ran over the run (hidden behind compute or not).
        public var seconds: Double
        public var bytes: Double
    }

    public struct Result: Sendable, Equatable {
        public var steps: Int
        public var computeSeconds: Double
        /// Mean wall time of an inner step, exposed communication included.
        public var stepSeconds: Double
        public var computeUtilisation: Double
        public var exposedCommSecondsPerStep: Double
        /// One all-reduce (DDP: a step's gradients, every bucket) or one synchronisation across
        /// regions (streaming: one fragment's).
        public var syncSeconds: Double
        public var syncs: Int
        public var wanBytesPerReplicaPerSync: Double
        public var wanBytesTotal: Double
        public var wanGbpsMean: Double
        public var wanGbpsPeak: Double
        public var seconds: Double
        public var fabric: Level
        public var wan: Level
        /// The algorithm between regions, as the planner chose it.
        public var algorithm: String
    }

    public func run() -> Result {
        let schedule = scenario.schedule
        let compute = scenario.computeSeconds
        let values = scenario.model.parameters
        let layers = scenario.model.layers
        switch schedule.sync {
        case .ddp:
            // Every step: the gradients, bucket by bucket as the backward pass fills them (or all
            // at once after it), reduce-scattered in each region, all-reduced between regions,
            // all-gathered in each region.
            let buckets = schedule.overlapBackward ? layers : 1
            let bucket = exchange(values: values / buckets, reduceScatterInRegion: true)
            let exposed =
                schedule.overlapBackward
                ? Self.exposedBehindBackward(compute: compute, buckets: buckets, bucketSeconds: bucket.seconds)
                : bucket.seconds
            let step = compute + exposed
            let steps = scenario.steps
            let perStep = Double(buckets)
            return result(
                steps: steps, stepSeconds: step, syncSeconds: bucket.seconds * perStep,
                syncs: steps, perSync: bucket, syncScale: perStep, innerFabric: (0, 0))
        case .hier, .diloco, .streamingDiloco:
            // Inner steps: the gradients averaged inside each region. Every `every` steps (each
            // fragment's, spread evenly, for streaming) the parameters across regions.
            let inner = innerStep(compute: compute, values: values, layers: layers)
            let fragments = schedule.fragments
            let sync = exchange(values: values / fragments, reduceScatterInRegion: false)
            let syncs = scenario.steps * fragments / schedule.every
            // A synchronisation runs beside at most `overlap` inner steps, and no further than
            // the next one's start (the WAN carries one at a time).
            let window = min(Double(schedule.overlap), Double(schedule.every) / Double(fragments)) * inner.seconds
            let exposedPerSync = max(0, sync.seconds - window)
            let total = Double(scenario.steps) * inner.seconds + Double(syncs) * exposedPerSync
            return result(
                steps: scenario.steps, stepSeconds: total / Double(scenario.steps), syncSeconds: sync.seconds,
                syncs: syncs, perSync: sync, syncScale: 1, innerFabric: (inner.fabricSeconds, inner.fabricBytes))
        }
    }

    private func result(
        steps: Int, stepSeconds: Double, syncSeconds: Double, syncs: Int, perSync: Exchange, syncScale: Double,
        innerFabric: (seconds: Double, bytes: Double)
    ) -> Result {
        let compute = scenario.computeSeconds
        let total = stepSeconds * Double(steps)
        let wanBytes = perSync.wanBytes * syncScale * Double(syncs)
        let regions = scenario.regions.count
        return Result(
            steps: steps, computeSeconds: compute, stepSeconds: stepSeconds,
            computeUtilisation: compute / stepSeconds, exposedCommSecondsPerStep: stepSeconds - compute,
            syncSeconds: syncSeconds, syncs: syncs,
            wanBytesPerReplicaPerSync: regions > 1 ? perSync.wanBytes * syncScale / Double(scenario.replicas) : 0,
            wanBytesTotal: wanBytes, wanGbpsMean: total > 0 ? wanBytes * 8 / total / 1e9 : 0,
            wanGbpsPeak: perSync.wanSeconds > 0 ? perSync.wanBytes * 8 / perSync.wanSeconds / 1e9 : 0,
            seconds: total,
            fabric: Level(
                seconds: perSync.fabricSeconds * syncScale * Double(syncs) + innerFabric.seconds * Double(steps),
                bytes: perSync.fabricBytes * syncScale * Double(syncs) + innerFabric.bytes * Double(steps)),
            wan: Level(seconds: perSync.wanSeconds * syncScale * Double(syncs), bytes: wanBytes),
            algorithm: perSync.algorithm)
    }

    /// The time the communication of a step adds to it when bucket `i` of `buckets` (in
    /// backward order) is ready once the forward pass (1/3 of the step) and `i` buckets' share
    /// of the backward pass (2/3) are done, and buckets are reduced one after another.
    public static func exposedBehindBackward(compute: Double, buckets: Int, bucketSeconds: Double) -> Double {
        var finish = 0.0
        for index in 1...max(buckets, 1) {
            let ready = compute / 3 + Double(index) * (2 * compute / 3) / Double(buckets)
            finish = max(ready, finish) + bucketSeconds
        }
        return max(0, finish - compute)
    }

    /// An inner step of a schedule that averages gradients inside each region: compute, and
    /// what the region's all-reduce adds (the slowest region's).
    private func innerStep(compute: Double, values: Int, layers: Int) -> (
        seconds: Double, fabricSeconds: Double, fabricBytes: Double
    ) {
        let buckets = scenario.schedule.overlapBackward ? layers : 1
        let bytes = Double(values / buckets) * 4
        let slowest = scenario.regions.map { 2 * fabricHalf(replicas: $0.replicas, bytes: bytes) }.max() ?? 0
        let exposed =
            scenario.schedule.overlapBackward
            ? Self.exposedBehindBackward(compute: compute, buckets: buckets, bucketSeconds: slowest) : slowest
        let sent = scenario.regions.reduce(0.0) { $0 + 2 * fabricSent(replicas: $1.replicas, bytes: bytes) }
        return (compute + exposed, slowest * Double(buckets), sent * Double(buckets))
    }

    /// A reduce-scatter or an all-gather of `bytes` over a ring of `replicas` on the fabric.
    func fabricHalf(replicas: Int, bytes: Double) -> Double {
        guard replicas > 1 else { return 0 }
        let n = Double(replicas)
        let fabric = scenario.fabric
        return (n - 1) * (fabric.latencySeconds + bytes / n * 8 / fabric.bitsPerSecond)
    }

    /// What the replicas of a region send in one reduce-scatter or all-gather, summed.
    func fabricSent(replicas: Int, bytes: Double) -> Double {
        Double(replicas - 1) * bytes
    }

    /// One synchronisation of `values` parameters or gradients across regions: (with
    /// `reduceScatterInRegion`) a reduce-scatter inside each region, the all-reduce between
    /// regions at the schedule's compression, an all-gather inside each region.
    public func exchange(values: Int, reduceScatterInRegion: Bool) -> Exchange {
        let fabricBytes = Double(values) * 4
        let half = scenario.regions.map { fabricHalf(replicas: $0.replicas, bytes: fabricBytes) }.max() ?? 0
        let sentHalf = scenario.regions.reduce(0.0) { $0 + fabricSent(replicas: $1.replicas, bytes: fabricBytes) }
        let halves = reduceScatterInRegion ? 2.0 : 1.0
        let wire = Int((Double(values) * scenario.schedule.compression.bytesPerValue).rounded(.up))
        let (wanSeconds, wanBytes, algorithm) = acrossRegions(bytes: wire / 4 * 4)
        return Exchange(
            seconds: halves * half + wanSeconds, wanBytes: wanBytes, wanSeconds: wanSeconds,
            fabricBytes: halves * sentHalf, fabricSeconds: halves * half, algorithm: algorithm)
    }

    /// The all-reduce of `bytes` between the regions, one rank each, over the declared links.
    func acrossRegions(bytes: Int) -> (seconds: Double, bytes: Double, algorithm: String) {
        let regions = scenario.regions.count
        guard regions > 1, bytes > 0 else { return (0, 0, "none") }
        let names = scenario.regions.map(\.name)
        var links: [Int: [Int: LinkSpec]] = [:]
        var slowest = LinkCost(alphaSeconds: 0, betaSecondsPerByte: 0)
        for link in scenario.links {
            let from = names.firstIndex(of: link.link.from)!
            let to = names.firstIndex(of: link.link.to)!
            var spec = link.link.spec
            spec.bitsPerSecond = Self.reachableBitsPerSecond(link)
            links[from, default: [:]][to] = spec
            slowest.alphaSeconds = max(slowest.alphaSeconds, spec.latencySeconds)
            slowest.betaSecondsPerByte = max(slowest.betaSecondsPerByte, 8 / spec.bitsPerSecond)
        }
        let workers = (0..<regions).map {
            ControlMessage.PlanWorker(worker: $0, region: $0, host: 0, firstRank: $0, endpoints: [])
        }
        let layout = ClusterLayout(regions: names, devicesPerWorker: 1, workers: workers)
        let plan = AllReducePlanner(link: slowest, reduceSecondsPerByte: 0).plan(
            bytes: bytes, workers: regions, devicesPerWorker: 1, algorithm: wanAlgorithm)
        let segment = max(bytes / regions, 4)
        let chunk = wanChunkBytes ?? max(4 << 20, (segment / 32 + 3) / 4 * 4)
        var costs = CollectiveSimulator.Costs(
            lan: LinkCost(alphaSeconds: 0, betaSecondsPerByte: 0), reduceSecondsPerByte: 0, copySecondsPerByte: 0)
        costs.lanHops = false
        let simulator = CollectiveSimulator(layout: layout, links: links, costs: costs, gatewayChunkBytes: chunk)
        let count = bytes / 4
        var schedules: [CollectiveSchedule] = []
        var sent = 0.0
        for rank in 0..<regions {
            var schedule = CollectiveSchedule(rank: rank, ranks: regions)
            plan.algorithm.appendFlat(
                to: &schedule, group: Array(0..<regions), range: ElementRange(offset: 0, count: count),
                chunkElements: max(1, chunk / 4))
            for operation in schedule.operations where operation.kind.isSend {
                sent += Double(operation.range.count * 4 + DataFrameHeader.size)
            }
            schedules.append(schedule)
        }
        return (simulator.simulate(schedules), sent, plan.algorithm.rawValue)
    }

    /// What a link carries at most: its bandwidth, or its streams' windows per round trip when
    /// that is less (a TCP stream sends at most a window per round trip).
    public static func reachableBitsPerSecond(_ link: Scenario.Link) -> Double {
        let roundTrip = 2 * link.link.latencySeconds
        guard roundTrip > 0 else { return link.link.bitsPerSecond }
        return min(link.link.bitsPerSecond, Double(link.streams) * Double(link.windowBytes) * 8 / roundTrip)
    }
}
