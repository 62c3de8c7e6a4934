import StraitsWire

/// One line of `regions/<region>.jsonl`: what a region's workers sent, received and did in a
/// window (a second, a step, or the last stretch before the job ended).
public struct RegionRecord: Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// One of the per-second records.
        case second
        /// The last stretch, written as the job ends.
        case final
        /// One step, from the traffic each worker reported with its result.
        case step
    }

    /// What the region's gateway put on its outbound links in the window.
    public struct Gateway: Equatable, Sendable {
        public var offeredBytes: Int
        public var deliveredBytes: Int
        /// Mean over the messages delivered in the window; 0 when none was.
        public var queueDelayMs: Double

        public init(offeredBytes: Int, deliveredBytes: Int, queueDelayMs: Double) {
            self.offeredBytes = offeredBytes
            self.deliveredBytes = deliveredBytes
            self.queueDelayMs = queueDelayMs
        }
    }

    public var kind: Kind
    public var region: String
    public var windowS: Double
    /// The latest step begun when the record was made (-1 before the first).
    public var step: Int
    public var wanTxBytes: Int
    public var wanRxBytes: Int
    public var lanTxBytes: Int
    public var lanRxBytes: Int
    public var samples: Int
    /// Per device of the region: seconds of compute and of communication in the window.
    public var computeS: Double
    public var commS: Double
    public var gateway: Gateway?

    public init(
        kind: Kind, region: String, windowS: Double, step: Int, wanTxBytes: Int, wanRxBytes: Int, lanTxBytes: Int,
        lanRxBytes: Int, samples: Int, computeS: Double, commS: Double, gateway: Gateway?
    ) {
        self.kind = kind
        self.region = region
        self.windowS = windowS
        self.step = step
        self.wanTxBytes = wanTxBytes
        self.wanRxBytes = wanRxBytes
        self.lanTxBytes = lanTxBytes
        self.lanRxBytes = lanRxBytes
        self.samples = samples
        self.computeS = computeS
        self.commS = commS
        self.gateway = gateway
    }

    public var wanTxGbps: Double { Double(wanTxBytes) * 8 / windowS / 1e9 }
    public var wanRxGbps: Double { Double(wanRxBytes) * 8 / windowS / 1e9 }
    public var lanGbps: Double { Double(lanTxBytes) * 8 / windowS / 1e9 }
    public var samplesPerS: Double { Double(samples) / windowS }
}

/// One line of `links.jsonl`: what one directed WAN link carried in a window.
public struct LinkRecord: Equatable, Sendable {
    /// Counted by the gateway that shapes the link.
    public struct Shaped: Equatable, Sendable {
        public var utilisation: Double
        public var queuedBytes: Int
        public var queueDelayMs: Double
        public var queueDelayMaxMs: Double
        /// How late the gateway sent messages on against when the link released them.
        public var lateP99Us: Double
        /// How late the receiving ranks took messages after they arrived (the worst receiving
        /// host's percentiles); nil when no receiver counted any.
        public var arrivals: ControlMessage.Arrivals?

        public init(
            utilisation: Double, queuedBytes: Int, queueDelayMs: Double, queueDelayMaxMs: Double, lateP99Us: Double,
            arrivals: ControlMessage.Arrivals?
        ) {
            self.utilisation = utilisation
            self.queuedBytes = queuedBytes
            self.queueDelayMs = queueDelayMs
            self.queueDelayMaxMs = queueDelayMaxMs
            self.lateP99Us = lateP99Us
            self.arrivals = arrivals
        }
    }

    public var kind: RegionRecord.Kind
    public var from: String
    public var to: String
    public var windowS: Double
    public var bandwidthBps: Double
    public var latencyS: Double
    public var offeredBytes: Int
    public var deliveredBytes: Int
    /// Nil where no gateway shapes the link: then the bytes are what the workers sent and received.
    public var shaped: Shaped?

    public init(
        kind: RegionRecord.Kind, from: String, to: String, windowS: Double, bandwidthBps: Double, latencyS: Double,
        offeredBytes: Int, deliveredBytes: Int, shaped: Shaped?
    ) {
        self.kind = kind
        self.from = from
        self.to = to
        self.windowS = windowS
        self.bandwidthBps = bandwidthBps
        self.latencyS = latencyS
        self.offeredBytes = offeredBytes
        self.deliveredBytes = deliveredBytes
        self.shaped = shaped
    }

    public var offeredGbps: Double { Double(offeredBytes) * 8 / windowS / 1e9 }
    public var deliveredGbps: Double { Double(deliveredBytes) * 8 / windowS / 1e9 }
}

/// A region's counters summed over its workers.
public struct RegionTotals: Equatable, Sendable {
    public var wanTx = 0, wanRx = 0, lanTx = 0, lanRx = 0
    public var computeS = 0.0, commS = 0.0
    public var stepsDone = 0
    public init() {}

    /// Each region's totals, from what its workers last reported.
    public static func of(_ workers: [Membership.Member]) -> [Int: RegionTotals] {
        var totals: [Int: RegionTotals] = [:]
        for member in workers {
            var entry = totals[member.region] ?? RegionTotals()
            let traffic = member.report.traffic
            entry.wanTx += traffic.wanTxBytes.values.reduce(0, +)
            entry.wanRx += traffic.wanRxBytes.values.reduce(0, +)
            entry.lanTx += traffic.lanTxBytes
            entry.lanRx += traffic.lanRxBytes
            entry.computeS += member.report.computeS
            entry.commS += member.report.commS
            entry.stepsDone += member.report.stepsDone
            totals[member.region] = entry
        }
        return totals
    }
}

extension RegionRecord: Encodable {
    enum CodingKeys: String, CodingKey {
        case kind, region, step
        case windowS = "window_s"
        case wanTxBytes = "wan_tx_bytes"
        case wanRxBytes = "wan_rx_bytes"
        case wanTxGbps = "wan_tx_gbps"
        case wanRxGbps = "wan_rx_gbps"
        case lanTxBytes = "lan_tx_bytes"
        case lanRxBytes = "lan_rx_bytes"
        case lanGbps = "lan_gbps"
        case samplesPerS = "samples_per_s"
        case computeS = "compute_s"
        case commS = "comm_s"
        case gatewayOfferedBytes = "gateway_offered_bytes"
        case gatewayDeliveredBytes = "gateway_delivered_bytes"
        case wanQueueDelayMs = "wan_queue_delay_ms"
    }

    /// The fields of `regions/<region>.jsonl` (`docs/contracts.md`), rates computed over the window.
    public func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(kind.rawValue, forKey: .kind)
        try fields.encode(region, forKey: .region)
        try fields.encode(windowS, forKey: .windowS)
        try fields.encode(step, forKey: .step)
        try fields.encode(wanTxBytes, forKey: .wanTxBytes)
        try fields.encode(wanRxBytes, forKey: .wanRxBytes)
        try fields.encode(wanTxGbps, forKey: .wanTxGbps)
        try fields.encode(wanRxGbps, forKey: .wanRxGbps)
        try fields.encode(lanTxBytes, forKey: .lanTxBytes)
        try fields.encode(lanRxBytes, forKey: .lanRxBytes)
        try fields.encode(lanGbps, forKey: .lanGbps)
        try fields.encode(samplesPerS, forKey: .samplesPerS)
        try fields.encode(computeS, forKey: .computeS)
        try fields.encode(commS, forKey: .commS)
        if let gateway {
            try fields.encode(gateway.offeredBytes, forKey: .gatewayOfferedBytes)
            try fields.encode(gateway.deliveredBytes, forKey: .gatewayDeliveredBytes)
            try fields.encode(gateway.queueDelayMs, forKey: .wanQueueDelayMs)
        }
    }
}

extension LinkRecord: Encodable {
    enum CodingKeys: String, CodingKey {
        case kind, from, to, shaped, utilisation, arrivals
        case windowS = "window_s"
        case bandwidthBps = "bandwidth_bps"
        case latencyS = "latency_s"
        case offeredBytes = "offered_bytes"
        case deliveredBytes = "delivered_bytes"
        case offeredGbps = "offered_gbps"
        case deliveredGbps = "delivered_gbps"
        case queuedBytes = "queued_bytes"
        case queueDelayMs = "queue_delay_ms"
        case queueDelayMaxMs = "queue_delay_max_ms"
        case lateP99Us = "late_p99_us"
        case arrivalLateP50Us = "arrival_late_p50_us"
        case arrivalLateP99Us = "arrival_late_p99_us"
        case arrivalLateMaxUs = "arrival_late_max_us"
    }

    /// The fields of `links.jsonl` (`docs/contracts.md`); `queue_delay_ms` is null where no
    /// gateway shapes the link.
    public func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(kind.rawValue, forKey: .kind)
        try fields.encode(from, forKey: .from)
        try fields.encode(to, forKey: .to)
        try fields.encode(windowS, forKey: .windowS)
        try fields.encode(bandwidthBps, forKey: .bandwidthBps)
        try fields.encode(latencyS, forKey: .latencyS)
        try fields.encode(offeredBytes, forKey: .offeredBytes)
        try fields.encode(deliveredBytes, forKey: .deliveredBytes)
        try fields.encode(offeredGbps, forKey: .offeredGbps)
        try fields.encode(deliveredGbps, forKey: .deliveredGbps)
        try fields.encode(shaped != nil, forKey: .shaped)
        guard let shaped else {
            try fields.encodeNil(forKey: .queueDelayMs)
            return
        }
        try fields.encode(shaped.utilisation, forKey: .utilisation)
        try fields.encode(shaped.queuedBytes, forKey: .queuedBytes)
        try fields.encode(shaped.queueDelayMs, forKey: .queueDelayMs)
        try fields.encode(shaped.queueDelayMaxMs, forKey: .queueDelayMaxMs)
        try fields.encode(shaped.lateP99Us, forKey: .lateP99Us)
        if let arrivals = shaped.arrivals {
            try fields.encode(arrivals.messages, forKey: .arrivals)
            try fields.encode(arrivals.lateP50Us, forKey: .arrivalLateP50Us)
            try fields.encode(arrivals.lateP99Us, forKey: .arrivalLateP99Us)
            try fields.encode(arrivals.lateMaxUs, forKey: .arrivalLateMaxUs)
        }
    }
}
