import Collectives
import Config
import Emulation
import Foundation
import Telemetry
import Transport

/// `straits sweep`: a grid of WAN bandwidth × latency × algorithm, each point a local cluster
/// (coordinator, gateways, workers) running the all-reduce benchmark at every size, with the
/// model's prediction beside each measurement.
public struct Sweep {
    let options: SweepOptions
    /// Where `straits-coordinator`, `straits-gateway` and `straits-worker` are.
    let binaries: String

    public init(options: SweepOptions, binaries: String) {
        self.options = options
        self.binaries = binaries
    }

    /// Fails before the first point when a program the clusters need is not beside `straits`,
    /// rather than once per point.
    func checkBinaries() throws {
        let missing = ["straits-coordinator", "straits-gateway", "straits-worker"].filter {
            !FileManager.default.isExecutableFile(atPath: binaries + "/" + $0)
        }
        guard missing.isEmpty else {
            throw RuntimeError(
                .system,
                "straits sweep: \(missing.joined(separator: ", ")) not found in \(binaries), where straits is; build every product (swift build -c release)"
            )
        }
    }

    /// One measured size at one grid point.
    struct Row {
        let bandwidth: Double, latency: Double, algo: String, size: Int
        let record: [String: Any]
        var measured: Double { (record["time_us"] as? Double ?? 0) / 1e6 }
        var predicted: Double { (record["predicted_us"] as? Double ?? 0) / 1e6 }
        /// How busy the model keeps the machine's cores (nil: not modelled).
        var coresBusy: Double? { record["model_cores_busy"] as? Double }
    }

    public func run() throws -> Int32 {
        try checkBinaries()
        if let job = options.job { return try runTraining(jobPath: job) }
        let (csv, jsonl) = try outputs(columns: Self.columns)
        let children = ChildProcesses()
        children.installSignalHandlers()
        defer { children.stopAll() }

        let points = options.bandwidths.flatMap { b in
            options.latencies.flatMap { l in options.algorithms.map { (b, l, $0) } }
        }
        let ranks = options.regions * options.hosts * options.devices
        emit(
            "# straits sweep: \(points.count) points × \(options.sizes.count) sizes; \(options.regions) regions × \(options.hosts) hosts × \(options.devices) devices = \(ranks) ranks; \(options.iterations) iterations after \(options.warmup) warm-up"
        )
        emit(
            "# model: each rank's schedules simulated over the declared links (bandwidth shared by the flows on a link, then latency), the measured LAN, and this machine's cores as measured (each the median of the points' measurements so far, in calibration.jsonl), shared by every process's copies\(options.checksums ? ", checksums" : "") and reductions; data frames \(options.checksums ? "checksummed (CRC32C)" : "without checksums (--checksums adds them)")"
        )
        emit(
            "#" + padded("bandwidth", 11) + padded("latency", 10) + padded("algo", 6) + padded("size", 11, right: true)
                + padded("measured(ms)", 14, right: true)
                + padded("model(ms)", 12, right: true) + padded("ratio", 8, right: true)
                + padded("busbw", 9, right: true)
                + padded("wan busbw", 11, right: true)
                + padded("link util", 11, right: true) + padded("cores", 7, right: true) + "  plan")
        var failures = 0
        var tally = SweepReport.Tally()
        for (index, (bandwidth, latency, algo)) in points.enumerated() {
            let directory = pointDirectory(bandwidth, latency, algo)
            emit(
                "# [\(index + 1)/\(points.count)] \(Units.formatRate(bitsPerSecond: bandwidth)), \(Units.formatDuration(seconds: latency)), \(algo): running (\(directory))"
            )
            do {
                for row in try runPoint(
                    bandwidth: bandwidth, latency: latency, algo: algo, directory: directory, children: children)
                {
                    let r = row.record
                    let ratio = row.measured / row.predicted
                    tally.add(ratio: ratio, coresBusy: row.coresBusy)
                    emit(
                        " " + padded(Units.formatRate(bitsPerSecond: bandwidth), 11)
                            + padded(Units.formatDuration(seconds: latency), 10) + padded(algo, 6)
                            + padded(AllReducePlanSize.format(row.size), 11, right: true)
                            + padded(fixed(row.measured * 1e3, 2), 14, right: true)
                            + padded(fixed(row.predicted * 1e3, 2), 12, right: true)
                            + padded(fixed(ratio, 3), 8, right: true)
                            + padded(fixed(r["busbw_gbps"] as? Double ?? 0, 3), 9, right: true)
                            + padded(fixed(r["wan_busbw_gbps"] as? Double ?? 0, 3), 11, right: true)
                            + padded(
                                (r["link_bound"] as? Bool ?? false)
                                    ? fixed((r["link_utilisation"] as? Double ?? 0) * 100, 0) + "%" : "-", 11,
                                right: true)
                            + padded(row.coresBusy.map { fixed($0 * 100, 0) + "%" } ?? "-", 7, right: true)
                            + "  " + (r["algo"] as? String ?? ""))
                    let fields: [(String, JSONValue)] = [
                        ("bandwidth_bps", .double(bandwidth)), ("latency_s", .double(latency)), ("algo", .string(algo)),
                        ("size_bytes", .int(row.size)), ("ranks", .int(ranks)), ("regions", .int(options.regions)),
                        ("hosts_per_region", .int(options.hosts)), ("devices_per_host", .int(options.devices)),
                        ("measured_s", .double(row.measured)), ("predicted_s", .double(row.predicted)),
                        ("ratio", .double(ratio)),
                        ("busbw_gbps", .double(r["busbw_gbps"] as? Double ?? 0)),
                        ("host_busbw_gbps", .double(r["host_busbw_gbps"] as? Double ?? 0)),
                        ("region_busbw_gbps", .double(r["region_busbw_gbps"] as? Double ?? 0)),
                        ("wan_busbw_gbps", .double(r["wan_busbw_gbps"] as? Double ?? 0)),
                        ("link_utilisation", .double(r["link_utilisation"] as? Double ?? 0)),
                        ("link_bound", .bool(r["link_bound"] as? Bool ?? false)),
                        ("cores_busy", row.coresBusy.map { .double($0) } ?? .null),
                        ("plan", .string(r["algo"] as? String ?? "")), ("wrong", .int(r["wrong"] as? Int ?? 0)),
                    ]
                    jsonl.append(.object(fields))
                    csv.appendLine(fields.map { Self.csvCell($0.1) }.joined(separator: ","))
                }
            } catch {
                failures += 1
                emit("# [\(index + 1)/\(points.count)] failed: \(error) (logs in \(directory)/logs)")
            }
        }
        let percent = SweepReport.Tally.percent
        emit(
            "# \(tally.within) of \(tally.total) measurements within ±10% of the model (\(percent(tally.within, tally.total))); \(failures) point\(failures == 1 ? "" : "s") failed"
        )
        if tally.headroom + tally.busier > 0 {
            emit(
                "# where the model leaves this machine's cores at least half idle (cores < \(fixed(CollectiveSimulator.headroomBusy * 100, 0))%): \(tally.headroomWithin) of \(tally.headroom) within ±10% (\(percent(tally.headroomWithin, tally.headroom))); the other \(tally.busier) rows are paced by the cores as much as by the links"
            )
        }
        emit(
            "# results: \(options.output)/sweep.csv, \(options.output)/sweep.jsonl; chart: straits report \(options.output)"
        )
        return failures == 0 ? 0 : 1
    }

    /// The points' pooled machine measurements (`CalibrationPool`): each point's coordinator
    /// adds its own, and models with the median of all so far.
    var calibrationPoolPath: String { options.output + "/calibration.jsonl" }

    /// Creates the output directory and opens sweep.csv (with its header line) and sweep.jsonl;
    /// a new sweep starts a new calibration pool.
    private func outputs(columns: [String]) throws -> (csv: JSONLWriter, jsonl: JSONLWriter) {
        try FileManager.default.createDirectory(atPath: options.output + "/runs", withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: calibrationPoolPath)
        let csv = try JSONLWriter(path: options.output + "/sweep.csv")
        csv.appendLine(columns.joined(separator: ","))
        return (csv, try JSONLWriter(path: options.output + "/sweep.jsonl"))
    }

    /// A grid point's run directory: `runs/100Mbps-20ms-ring`.
    private func pointDirectory(_ bandwidth: Double, _ latency: Double, _ label: String) -> String {
        options.output + "/runs/"
            + "\(Units.formatRate(bitsPerSecond: bandwidth))-\(Units.formatDuration(seconds: latency))-\(label)"
            .replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "µ", with: "u")
    }

    static let columns = [
        "bandwidth_bps", "latency_s", "algo", "size_bytes", "ranks", "regions", "hosts_per_region", "devices_per_host",
        "measured_s", "predicted_s", "ratio", "busbw_gbps", "host_busbw_gbps", "region_busbw_gbps", "wan_busbw_gbps",
        "link_utilisation", "link_bound", "cores_busy", "plan", "wrong",
    ]

    static func csvCell(_ value: JSONValue) -> String {
        switch value {
        case .null: return ""
        case .string(let text):
            return text.contains(",") || text.contains("\"")
                ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        default: return value.encoded
        }
    }

    /// Runs one grid point's cluster and returns its benchmark rows.
    private func runPoint(bandwidth: Double, latency: Double, algo: String, directory: String, children: ChildProcesses)
        throws -> [Row]
    {
        let job =
            "name: sweep\nkind: bench\nsizes: [\(options.sizes.map(String.init).joined(separator: ", "))]\niters: \(options.iterations)\nwarmup: \(options.warmup)\nalgo: \(algo)\ntimeout: \(Int(options.timeoutSeconds))s\n"
            + (options.chunkBytes.map { "chunk: \($0)\n" } ?? "")
        try runCluster(
            bandwidth: bandwidth, latency: latency, job: job, directory: directory, children: children,
            timeout: options.timeoutSeconds * Double(options.sizes.count) + 60)
        let text = try String(contentsOfFile: directory + "/bench.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            guard let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let size = record["size_bytes"] as? Int
            else {
                throw RuntimeError(.protocolViolation, "\(directory)/bench.jsonl: a line is not a benchmark row")
            }
            return Row(bandwidth: bandwidth, latency: latency, algo: algo, size: size, record: record)
        }
    }

    /// Writes the point's topology and `job`, runs a local cluster on them in `directory` and
    /// waits for the coordinator to finish the job.
    private func runCluster(
        bandwidth: Double, latency: Double, job: String, directory: String, children: ChildProcesses,
        timeout: Double
    ) throws {
        let manager = FileManager.default
        try manager.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true)
        let regionNames = (0..<options.regions).map { "r\($0)" }
        var topology = "name: sweep\nregions:\n"
        for region in regionNames {
            topology += "  - { name: \(region), hosts: \(options.hosts), devices_per_host: \(options.devices) }\n"
        }
        topology += "links:\n"
        for a in regionNames.indices {
            for b in regionNames.indices where b > a {
                topology +=
                    "  - { between: [\(regionNames[a]), \(regionNames[b])], bandwidth: \(Int(bandwidth))bps, latency: \(Int((latency * 1e6).rounded()))us, jitter: \(Int((options.jitterSeconds * 1e6).rounded()))us }\n"
            }
        }
        let topologyPath = directory + "/sweep-topology.yaml"
        let jobPath = directory + "/sweep-job.yaml"
        try topology.write(toFile: topologyPath, atomically: true, encoding: .utf8)
        try job.write(toFile: jobPath, atomically: true, encoding: .utf8)
        try? manager.removeItem(atPath: directory + "/coordinator.endpoint")

        let coordinator = try children.start(
            binaries + "/straits-coordinator",
            [
                "--topology", topologyPath, "--job", jobPath, "--run-dir", directory,
                "--calibration-pool", calibrationPoolPath,
            ] + (options.checksums ? [] : ["--no-checksums"]),
            log: directory + "/logs/coordinator.log")
        var endpoint = ""
        let start = Date()
        while Date().timeIntervalSince(start) < 30 {
            if let text = try? String(contentsOfFile: directory + "/coordinator.endpoint", encoding: .utf8),
                text.hasSuffix("\n")
            {
                endpoint = text.trimmingCharacters(in: .whitespacesAndNewlines)
                break
            }
            guard coordinator.isRunning else { break }
            usleep(50_000)
        }
        guard !endpoint.isEmpty else {
            throw RuntimeError(.peerFailed, "the coordinator did not start; see \(directory)/logs/coordinator.log")
        }
        for region in regionNames {
            try children.start(
                binaries + "/straits-gateway",
                [
                    "--coordinator", endpoint, "--region", region, "--topology", topologyPath,
                    "--transport", options.transport.rawValue,
                ]
                    + (options.deliveryThreads.map { ["--delivery-threads", String($0)] } ?? [])
                    + (options.hold.map { ["--hold", $0] } ?? [])
                    + (options.cpuLatency.map { ["--cpu-latency-us", $0] } ?? []),
                log: directory + "/logs/gateway-\(region).log")
            for host in 0..<options.hosts {
                try children.start(
                    binaries + "/straits-worker",
                    [
                        "--coordinator", endpoint, "--region", region, "--host", String(host),
                        "--devices", String(options.devices), "--transport", options.transport.rawValue,
                    ]
                        + (options.arrivalWait.map { ["--arrival-wait", $0] } ?? []),
                    log: directory + "/logs/worker-\(region)-\(host).log")
            }
        }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while coordinator.isRunning && Date() < deadline { usleep(100_000) }
        if coordinator.isRunning { throw RuntimeError(.timedOut, "timed out; see \(directory)/logs") }
        _ = children.waitAll(timeout: .seconds(10))
        guard coordinator.terminationStatus == 0 else {
            throw RuntimeError(
                .peerFailed,
                "the coordinator exited with status \(coordinator.terminationStatus); see \(directory)/logs/coordinator.log"
            )
        }
    }

    static let trainingColumns = [
        "bandwidth_bps", "latency_s", "schedule", "sync", "every", "compression", "ranks", "regions",
        "hosts_per_region", "devices_per_host", "steps", "final_loss", "target_loss", "reached_target",
        "steps_to_target", "time_to_target_s", "wall_s", "wan_bytes", "wan_bytes_to_target",
        "wan_bytes_vs_ddp", "compute_utilisation",
    ]

    /// `--job`: trains the job at every bandwidth × latency point; a row per schedule.
    private func runTraining(jobPath: String) throws -> Int32 {
        let jobText = try String(contentsOfFile: jobPath, encoding: .utf8)
        let spec = try JobSpec.parse(jobText, file: jobPath)
        let (csv, jsonl) = try outputs(columns: Self.trainingColumns)
        let children = ChildProcesses()
        children.installSignalHandlers()
        defer { children.stopAll() }
        let points = options.bandwidths.flatMap { b in options.latencies.map { (b, $0) } }
        let ranks = options.regions * options.hosts * options.devices
        emit(
            "# straits sweep: training job \(spec.name) (\(spec.training!.schedules.map(\.name).joined(separator: ", "))) at \(points.count) points; \(options.regions) regions × \(options.hosts) hosts × \(options.devices) devices = \(ranks) ranks"
        )
        emit(
            "#" + padded("bandwidth", 11) + padded("latency", 10) + padded("schedule", 18)
                + padded("final loss", 11, right: true)
                + padded("wall(s)", 9, right: true) + padded("to target(s)", 14, right: true)
                + padded("WAN(MB)", 10, right: true)
                + padded("WAN/step vs ddp", 17, right: true) + padded("compute", 9, right: true))
        var failures = 0
        for (index, (bandwidth, latency)) in points.enumerated() {
            let directory = pointDirectory(bandwidth, latency, "train")
            emit(
                "# [\(index + 1)/\(points.count)] \(Units.formatRate(bitsPerSecond: bandwidth)), \(Units.formatDuration(seconds: latency)): training (\(directory))"
            )
            do {
                try runCluster(
                    bandwidth: bandwidth, latency: latency, job: jobText, directory: directory, children: children,
                    timeout: options.timeoutSeconds)
                guard let summary = try RunReport.readLines(directory + "/summary.json").first,
                    let training = summary["training"] as? [String: Any],
                    let schedules = training["schedules"] as? [[String: Any]]
                else { throw RuntimeError(.protocolViolation, "\(directory)/summary.json has no training figures") }
                for schedule in schedules {
                    let utilisation = (schedule["compute_utilisation"] as? [String: Double] ?? [:]).values
                    let meanUtilisation = utilisation.isEmpty ? 0 : utilisation.reduce(0, +) / Double(utilisation.count)
                    func value(_ key: String) -> JSONValue {
                        switch schedule[key] {
                        case let number as NSNumber where key == "reached_target": .bool(number.boolValue)
                        case let number as NSNumber: .double(number.doubleValue)
                        case let text as String: .string(text)
                        default: .null
                        }
                    }
                    var fields: [(String, JSONValue)] = [
                        ("bandwidth_bps", .double(bandwidth)), ("latency_s", .double(latency)),
                        ("schedule", value("name")),
                        ("sync", value("sync")), ("every", value("every")), ("compression", value("compression")),
                        ("ranks", .int(ranks)),
                        ("regions", .int(options.regions)), ("hosts_per_region", .int(options.hosts)),
                        ("devices_per_host", .int(options.devices)),
                    ]
                    for key in ["steps", "final_loss"] { fields.append((key, value(key))) }
                    fields.append(
                        ("target_loss", (training["target_loss"] as? NSNumber).map { .double($0.doubleValue) } ?? .null)
                    )
                    for key in [
                        "reached_target", "steps_to_target", "time_to_target_s", "wall_s", "wan_bytes",
                        "wan_bytes_to_target", "wan_bytes_vs_ddp",
                    ] {
                        fields.append((key, value(key)))
                    }
                    fields.append(("compute_utilisation", .double(meanUtilisation)))
                    jsonl.append(.object(fields))
                    csv.appendLine(fields.map { Self.csvCell($0.1) }.joined(separator: ","))
                    func number(_ key: String, _ digits: Int, scale: Double = 1) -> String {
                        (schedule[key] as? NSNumber).map { fixed($0.doubleValue * scale, digits) } ?? "-"
                    }
                    emit(
                        " " + padded(Units.formatRate(bitsPerSecond: bandwidth), 11)
                            + padded(Units.formatDuration(seconds: latency), 10)
                            + padded(schedule["name"] as? String ?? "", 18)
                            + padded(number("final_loss", 4), 11, right: true)
                            + padded(number("wall_s", 1), 9, right: true)
                            + padded(
                                schedule["reached_target"] as? Bool == true
                                    ? number("time_to_target_s", 1) : "not reached", 14, right: true)
                            + padded(number("wan_bytes", 1, scale: 1e-6), 10, right: true)
                            + padded(number("wan_bytes_vs_ddp", 3), 17, right: true)
                            + padded(fixed(meanUtilisation * 100, 1) + "%", 9, right: true))
                }
            } catch {
                failures += 1
                emit("# [\(index + 1)/\(points.count)] failed: \(error) (logs in \(directory)/logs)")
            }
        }
        emit(
            "# results: \(options.output)/sweep.csv, \(options.output)/sweep.jsonl; chart: straits report \(options.output)"
        )
        return failures == 0 ? 0 : 1
    }
}

/// Sizes for people: 64K, 16M.
enum AllReducePlanSize {
    static func format(_ bytes: Int) -> String {
        if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20)M" }
        if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10)K" }
        return "\(bytes)"
    }
}
