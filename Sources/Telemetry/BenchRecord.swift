/// One line of `bench.jsonl` or of `straits bench allreduce --json`: a `BenchRow` with its
/// algorithm and transport, and for the cluster's bench job what the model and the levels add
/// (`docs/contracts.md`).
public struct BenchRecord: Encodable, Sendable {
    /// What the cluster's bench job adds to a row.
    public struct Cluster: Sendable {
        /// The busiest link's serialisation time is at least 90% of the model's.
        public var linkBound: Bool
        /// The busiest link's serialisation time over the measured time.
        public var linkUtilisation: Double
        /// How busy the model keeps this machine's cores (a local cluster's model only).
        public var modelCoresBusy: Double?
        /// Whether ranks left to choose (`--arrival-wait auto`) approached arrivals.
        public var approachArrivals: Bool?
        public var hierarchical: Bool
        /// The slowest rank's own median time, microseconds (the row's time is the makespan:
        /// the first rank's start to the last rank's end).
        public var rankUs: Double
        /// The slowest rank's median time in each level, microseconds, and busbw over its ranks.
        public var hostUs: Double, regionUs: Double, wanUs: Double
        public var hostBusbwGbps: Double, regionBusbwGbps: Double, wanBusbwGbps: Double

        public init(
            linkBound: Bool, linkUtilisation: Double, modelCoresBusy: Double?, approachArrivals: Bool?,
            hierarchical: Bool, rankUs: Double, hostUs: Double, regionUs: Double, wanUs: Double,
            hostBusbwGbps: Double, regionBusbwGbps: Double, wanBusbwGbps: Double
        ) {
            self.rankUs = rankUs
            self.linkBound = linkBound
            self.linkUtilisation = linkUtilisation
            self.modelCoresBusy = modelCoresBusy
            self.approachArrivals = approachArrivals
            self.hierarchical = hierarchical
            self.hostUs = hostUs
            self.regionUs = regionUs
            self.wanUs = wanUs
            self.hostBusbwGbps = hostBusbwGbps
            self.regionBusbwGbps = regionBusbwGbps
            self.wanBusbwGbps = wanBusbwGbps
        }
    }

    public var row: BenchRow
    public var algorithm: String
    public var transport: String
    public var cluster: Cluster?

    public init(_ row: BenchRow, algorithm: String, transport: String, cluster: Cluster? = nil) {
        self.row = row
        self.algorithm = algorithm
        self.transport = transport
        self.cluster = cluster
    }

    enum CodingKeys: String, CodingKey {
        case count, ranks, algo, transport, wrong, ratio, hierarchical
        case sizeBytes = "size_bytes"
        case timeUs = "time_us"
        case p50Us = "p50_us"
        case p99Us = "p99_us"
        case algbwGbps = "algbw_gbps"
        case busbwGbps = "busbw_gbps"
        case predictedUs = "predicted_us"
        case linkBound = "link_bound"
        case linkUtilisation = "link_utilisation"
        case modelCoresBusy = "model_cores_busy"
        case approachArrivals = "approach_arrivals"
        case rankUs = "rank_time_us"
        case hostUs = "host_us"
        case regionUs = "region_us"
        case wanUs = "wan_us"
        case hostBusbwGbps = "host_busbw_gbps"
        case regionBusbwGbps = "region_busbw_gbps"
        case wanBusbwGbps = "wan_busbw_gbps"
    }

    public func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(row.sizeBytes, forKey: .sizeBytes)
        try fields.encode(row.sizeBytes / 4, forKey: .count)
        try fields.encode(row.ranks, forKey: .ranks)
        try fields.encode(algorithm, forKey: .algo)
        try fields.encode(transport, forKey: .transport)
        try fields.encodeFinite(row.median * 1e6, forKey: .timeUs)
        try fields.encodeFinite(row.median * 1e6, forKey: .p50Us)
        try fields.encodeFinite(row.p99 * 1e6, forKey: .p99Us)
        try fields.encodeFinite(row.algbw, forKey: .algbwGbps)
        try fields.encodeFinite(row.busbw, forKey: .busbwGbps)
        try fields.encode(row.wrong, forKey: .wrong)
        if let predicted = row.predicted {
            try fields.encodeFinite(predicted * 1e6, forKey: .predictedUs)
            try fields.encodeFinite(row.median / predicted, forKey: .ratio)
        }
        guard let cluster else { return }
        try fields.encode(cluster.linkBound, forKey: .linkBound)
        try fields.encodeFinite(cluster.linkUtilisation, forKey: .linkUtilisation)
        try fields.encodeFinite(cluster.modelCoresBusy, forKey: .modelCoresBusy)
        try fields.encode(cluster.approachArrivals, forKey: .approachArrivals)
        try fields.encode(cluster.hierarchical, forKey: .hierarchical)
        for (key, value) in [
            (CodingKeys.rankUs, cluster.rankUs), (.hostUs, cluster.hostUs), (.regionUs, cluster.regionUs),
            (.wanUs, cluster.wanUs),
            (.hostBusbwGbps, cluster.hostBusbwGbps), (.regionBusbwGbps, cluster.regionBusbwGbps),
            (.wanBusbwGbps, cluster.wanBusbwGbps),
        ] {
            try fields.encodeFinite(value, forKey: key)
        }
    }
}
