import ClusterCore
import Config
import Foundation
import Telemetry
import Training
import Transport

extension Coordinator {
    /// The records of the window since the last ones (`RecordAccumulator`), written out.
    func writeRecords(kind: RegionRecord.Kind) {
        let (regions, links) = records.records(
            now: clock.now(), membership: membership, latestStep: latestStep, kind: kind)
        write(regions, links)
    }

    func write(_ regions: [RegionRecord], _ links: [LinkRecord]) {
        let timestamp = RunDirectory.timestamp()
        for record in regions { run.regions[record.region]?.append(encoding: Stamped(record, at: timestamp)) }
        for record in links { run.links.append(encoding: Stamped(record, at: timestamp)) }
    }

    /// summary.json: the run's headline figures.
    func writeSummary(status: String, reason: String?) {
        // The records first: a summary on the disk means the lines it sums up are there too.
        run.sync()
        let totals = RegionTotals.of(membership.workers)
        let wall = Date().timeIntervalSince(started)
        var sent = 0
        var received = 0
        for member in membership.workers {
            let traffic = member.report.traffic
            sent += traffic.lanTxBytes + traffic.wanTxBytes.values.reduce(0, +)
            received += traffic.lanRxBytes + traffic.wanRxBytes.values.reduce(0, +)
        }
        let regions: [JSONValue] = topology.regions.enumerated().map { index, region in
            let t = totals[index] ?? RegionTotals()
            let busy = t.computeS + t.commS
            let devices = max(region.hosts * region.devicesPerHost, 1)
            return .object([
                ("region", .string(region.name)), ("hosts", .int(region.hosts)),
                ("devices", .int(region.hosts * region.devicesPerHost)),
                ("wan_tx_bytes", .int(t.wanTx)), ("wan_rx_bytes", .int(t.wanRx)), ("lan_tx_bytes", .int(t.lanTx)),
                ("lan_rx_bytes", .int(t.lanRx)),
                ("compute_s", .double(t.computeS / Double(devices))),
                ("comm_s", .double(t.commS / Double(devices))),
                ("comm_share", .double(busy > 0 ? t.commS / busy : 0)),
                (
                    "samples_per_s",
                    .double(
                        wall > 0
                            ? Double(stepsFinished * region.hosts * region.devicesPerHost * job.samplesPerStep) / wall
                            : 0
                    )
                ),
            ])
        }
        run.write(
            "summary.json",
            .object(
                [
                    ("status", .string(status)), ("reason", reason.map { .string($0) } ?? .null),
                    ("job", .string(job.name)), ("kind", .string(job.kind.rawValue)),
                    ("topology", .string(topology.name)),
                    ("workers", .int(membership.liveWorkers.count)),
                    ("ranks", .int(order.isEmpty ? topology.deviceCount : rankCount)),
                    ("steps", .int(stepsFinished)), ("samples", .int(samplesFinished)), ("wall_s", .double(wall)),
                    ("started", .string(RunDirectory.timestamp(started))),
                    ("finished", .string(RunDirectory.timestamp())),
                    (
                        "compute",
                        .string(
                            job.training.map { Self.computeDescription($0, model: MLP(layers: $0.model.layers)) }
                                ?? (job.computeSeconds > 0
                                    ? "emulated: \(Units.formatDuration(seconds: job.computeSeconds)) sleep per step"
                                    : "none"))
                    ),
                    ("wan_path", .string(wanPath)),
                    ("bytes_sent", .int(sent)), ("bytes_received", .int(received)),
                    ("bytes_balanced", .bool(sent == received)),
                    ("dropped_control_messages", .int(dropped)),
                    (
                        "rejected_data_messages",
                        .int(membership.workers.reduce(0) { $0 + $1.report.traffic.rejectedMessages })
                    ),
                    ("regions", .array(regions)),
                    ("training", ledger?.json(samplesPerStep: job.samplesPerStep) ?? .null),
                ] + faultFields))
    }

    /// summary.json's `faults` (each fault's course, seconds from the first step) and `goodput`,
    /// for jobs with faults or a quorum.
    var faultFields: [(String, JSONValue)] {
        guard elastic || !job.faults.isEmpty || !job.kills.isEmpty || !faultLedger.courses.isEmpty else { return [] }
        let origin = faultLedger.firstStepNs ?? 0
        let seconds = { (ns: Int64?) -> JSONValue in ns.map { .double(Double($0 - origin) / 1e9) } ?? .null }
        let after = { (from: Int64?, to: Int64?) -> JSONValue in
            guard let from, let to else { return .null }
            return .double(Double(to - from) / 1e9)
        }
        let courses: [JSONValue] = faultLedger.courses.map { course in
            .object([
                ("kind", .string(course.kind)), ("fault", .int(course.fault)), ("target", .string(course.target)),
                ("began_s", seconds(course.beganNs)), ("ended_s", seconds(course.endedNs)),
                ("detected_after_s", after(course.beganNs, course.detectedNs)),
                ("recovered_after_s", after(course.detectedNs, course.recoveredNs)),
            ])
        }
        let rate = faultLedger.goodputRate
        let clean = faultLedger.faultFreeRate
        let goodput: JSONValue = .object([
            ("useful_samples", .int(faultLedger.usefulSamples)),
            ("samples_per_s", rate.map { .double($0) } ?? .null),
            ("fault_free_samples_per_s", clean.map { .double($0) } ?? .null),
            ("ratio", rate.flatMap { rate in clean.map { .double(rate / $0) } } ?? .null),
            ("undisturbed_samples", .int(faultLedger.undisturbedSamples)),
            ("steps_retried", .int(faultLedger.stepsRetried)),
            ("seconds_lost", .double(faultLedger.secondsLost)),
            ("epochs", .int(epoch)),
        ])
        return [("faults", .array(courses)), ("goodput", goodput)]
    }
}
