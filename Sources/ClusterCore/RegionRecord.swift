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
