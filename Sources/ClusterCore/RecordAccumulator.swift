import Config
import StraitsWire

/// Turns the members' running counters into the per-second, per-step and final records of each
/// region and WAN link: every record holds what changed since the one before it. No I/O and no
/// clock: the shell hands it `now` and writes what it returns.
public struct RecordAccumulator: Sendable {
    public let topology: ClusterTopology
    /// Samples one device processes in a step.
    public let samplesPerStep: Int
    /// Between two per-second records, nanoseconds.
    public let interval: Int64
    private var lastRecord: Int64
    private var recorded: [Int: RegionTotals] = [:]
    private var stepTotals: [Int: RegionTotals] = [:]
    /// Per region: its gateway's link counters summed at the last record.
    private var recordedGateways: [Int: GatewaySums] = [:]
    /// Per shaped link (`from→to`): the gateway's counters at the last record.
    private var recordedLinkStats: [String: ControlMessage.LinkStats] = [:]
    /// Per unshaped link: what the workers had sent and received at the last record.
    private var recordedLinks: [String: (offered: Int, delivered: Int)] = [:]

    struct GatewaySums {
        var offered = 0, delivered = 0, messages = 0
        var delayS = 0.0
    }

    public init(topology: ClusterTopology, samplesPerStep: Int, now: Int64, interval: Int64 = 1_000_000_000) {
        self.topology = topology
        self.samplesPerStep = samplesPerStep
        self.interval = interval
        lastRecord = now
    }

    /// When the next per-second record is due.
    public var nextRecordDue: Int64 { lastRecord + interval }

    /// The per-second records, if a second has passed since the last ones.
    public mutating func onTick(now: Int64, membership: Membership, latestStep: Int) -> ([RegionRecord], [LinkRecord])?
    {
        guard now >= nextRecordDue else { return nil }
        return records(now: now, membership: membership, latestStep: latestStep, kind: .second)
    }

    /// The records of the window since the last ones (`final` as the job ends); empty when no
    /// time has passed or nobody joined.
    public mutating func records(
        now: Int64, membership: Membership, latestStep: Int, kind: RegionRecord.Kind
    ) -> ([RegionRecord], [LinkRecord]) {
        let window = Double(now - lastRecord) / 1e9
        guard window > 0, !membership.workers.isEmpty else { return ([], []) }
        lastRecord = now
        let totals = RegionTotals.of(membership.workers)
        var regionRecords: [RegionRecord] = []
        for (index, region) in topology.regions.enumerated() {
            let current = totals[index] ?? RegionTotals()
            let previous = recorded[index] ?? RegionTotals()
            let devices = max(region.hosts * region.devicesPerHost, 1)
            let steps = (current.stepsDone - previous.stepsDone) / max(region.hosts, 1)
            var record = Self.delta(
                kind: kind, region: region.name, window: window, step: latestStep, now: current, then: previous,
                samples: steps * region.devicesPerHost * region.hosts * samplesPerStep,
                computeS: (current.computeS - previous.computeS) / Double(devices),
                commS: (current.commS - previous.commS) / Double(devices))
            if let gateway = membership.gateways[index] {
                let links = gateway.report.links
                let sums = GatewaySums(
                    offered: links.reduce(0) { $0 + $1.offeredBytes },
                    delivered: links.reduce(0) { $0 + $1.deliveredBytes },
                    messages: links.reduce(0) { $0 + $1.deliveredMessages },
                    delayS: links.reduce(0) { $0 + $1.queueDelaySSum })
                let before = recordedGateways[index] ?? GatewaySums()
                recordedGateways[index] = sums
                let messages = sums.messages - before.messages
                record.gateway = RegionRecord.Gateway(
                    offeredBytes: sums.offered - before.offered, deliveredBytes: sums.delivered - before.delivered,
                    queueDelayMs: messages > 0 ? (sums.delayS - before.delayS) / Double(messages) * 1e3 : 0)
            }
            regionRecords.append(record)
        }
        recorded = totals
        let linkRecords = topology.links.map { link(link: $0, window: window, kind: kind, membership: membership) }
        return (regionRecords, linkRecords)
    }

    private mutating func link(
        link: ClusterTopology.Link, window: Double, kind: RegionRecord.Kind, membership: Membership
    ) -> LinkRecord {
        var record = LinkRecord(
            kind: kind, from: link.from, to: link.to, windowS: window, bandwidthBps: link.bitsPerSecond,
            latencyS: link.latencySeconds, offeredBytes: 0, deliveredBytes: 0, shaped: nil)
        let key = link.from + "→" + link.to
        let from = topology.regions.firstIndex { $0.name == link.from }
        if let from, let stats = membership.gateways[from]?.report.links.first(where: { $0.to == link.to }) {
            let previous = recordedLinkStats[key]
            recordedLinkStats[key] = stats
            record.offeredBytes = stats.offeredBytes - (previous?.offeredBytes ?? 0)
            record.deliveredBytes = stats.deliveredBytes - (previous?.deliveredBytes ?? 0)
            let messages = stats.deliveredMessages - (previous?.deliveredMessages ?? 0)
            let busy = stats.busyS - (previous?.busyS ?? 0)
            let delay = stats.queueDelaySSum - (previous?.queueDelaySSum ?? 0)
            let receivers = membership.workers.filter { topology.regions[$0.region].name == link.to }
                .compactMap { $0.report.traffic.arrivals?[link.from] }
            record.shaped = LinkRecord.Shaped(
                utilisation: busy / window, queuedBytes: stats.queuedBytes,
                queueDelayMs: messages > 0 ? delay / Double(messages) * 1e3 : 0,
                queueDelayMaxMs: stats.queueDelaySMax * 1e3,
                lateP99Us: stats.lateP99Us,
                arrivals: receivers.isEmpty
                    ? nil
                    : ControlMessage.Arrivals(
                        messages: receivers.reduce(0) { $0 + $1.messages },
                        lateP50Us: receivers.map(\.lateP50Us).max()!,
                        lateP99Us: receivers.map(\.lateP99Us).max()!, lateMaxUs: receivers.map(\.lateMaxUs).max()!))
        } else {
            let offered = membership.workers.filter { topology.regions[$0.region].name == link.from }
                .reduce(0) { $0 + ($1.report.traffic.wanTxBytes[link.to] ?? 0) }
            let delivered = membership.workers.filter { topology.regions[$0.region].name == link.to }
                .reduce(0) { $0 + ($1.report.traffic.wanRxBytes[link.from] ?? 0) }
            let previous = recordedLinks[key] ?? (0, 0)
            recordedLinks[key] = (offered, delivered)
            record.offeredBytes = offered - previous.offered
            record.deliveredBytes = delivered - previous.delivered
        }
        return record
    }

    /// The per-region records of one step, from the traffic each worker reported with its result.
    /// `regionSums` holds per region the devices' summed compute and communication seconds and
    /// how many devices reported.
    public mutating func onStep(
        _ step: Int, wallS: Double, membership: Membership, regionSums: [Int: StepTally.RegionSums]
    ) -> [RegionRecord] {
        let before = stepTotals
        stepTotals = RegionTotals.of(membership.workers)
        return topology.regions.enumerated().map { region, spec in
            let sums = regionSums[region] ?? StepTally.RegionSums()
            let devices = max(sums.devices, 1)
            return Self.delta(
                kind: .step, region: spec.name, window: wallS, step: step, now: stepTotals[region] ?? RegionTotals(),
                then: before[region] ?? RegionTotals(), samples: devices * samplesPerStep,
                computeS: sums.computeS / Double(devices), commS: sums.commS / Double(devices))
        }
    }

    static func delta(
        kind: RegionRecord.Kind, region: String, window: Double, step: Int, now: RegionTotals, then: RegionTotals,
        samples: Int, computeS: Double, commS: Double
    ) -> RegionRecord {
        RegionRecord(
            kind: kind, region: region, windowS: max(window, 1e-9), step: step, wanTxBytes: now.wanTx - then.wanTx,
            wanRxBytes: now.wanRx - then.wanRx, lanTxBytes: now.lanTx - then.lanTx, lanRxBytes: now.lanRx - then.lanRx,
            samples: samples, computeS: computeS, commS: commS, gateway: nil)
    }
}
