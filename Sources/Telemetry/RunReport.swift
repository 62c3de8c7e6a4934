import Foundation

/// `straits report RUN_DIR`: reads a run directory, prints a per-region table (throughput,
/// bytes, share of time in communication) and the benchmark rows, and writes `report.html` with
/// charts of per-region throughput over time, step times and busbw against size.
public struct RunReport {
    public typealias Record = [String: Any]

    public let path: String
    public let summary: Record
    public let regions: [(name: String, records: [Record])]
    public let bench: [Record]
    public let steps: [Record]
    public let events: [Record]
    public let links: [Record]

    /// Reads every file of the run; a line that is not a JSON object is an error naming file and line.
    public init(path: String) throws {
        self.path = path
        let manager = FileManager.default
        guard manager.fileExists(atPath: path + "/summary.json") || manager.fileExists(atPath: path + "/regions") else {
            throw TelemetryError("\(path) is not a run directory (no summary.json, no regions/)")
        }
        summary = (try? Self.readLines(path + "/summary.json").first) ?? [:]
        let names = ((try? manager.contentsOfDirectory(atPath: path + "/regions")) ?? []).filter {
            $0.hasSuffix(".jsonl")
        }.sorted()
        var regions: [(String, [Record])] = []
        for name in names {
            regions.append((String(name.dropLast(6)), try Self.readLines(path + "/regions/" + name)))
        }
        // Keep the topology's order where the summary gives it.
        if let order = summary["regions"] as? [Record] {
            let ranked = order.compactMap { $0["region"] as? String }
            regions.sort {
                (ranked.firstIndex(of: $0.0) ?? Int.max, $0.0) < (ranked.firstIndex(of: $1.0) ?? Int.max, $1.0)
            }
        }
        self.regions = regions.map { (name: $0.0, records: $0.1) }
        bench = try Self.readLines(path + "/bench.jsonl", optional: true)
        steps = try Self.readLines(path + "/steps.jsonl", optional: true)
        events = try Self.readLines(path + "/events.jsonl", optional: true)
        links = try Self.readLines(path + "/links.jsonl", optional: true)
    }

    public static func readLines(_ file: String, optional: Bool = false) throws -> [Record] {
        guard let data = FileManager.default.contents(atPath: file) else {
            if optional { return [] }
            throw TelemetryError("cannot read \(file)")
        }
        var records: [Record] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
        where !line.isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? Record else {
                throw TelemetryError("\(file):\(index + 1): not a JSON object")
            }
            records.append(object)
        }
        return records
    }

    /// Totals of one region over its per-second records (`second` and `final`).
    public struct RegionTotals {
        public var wanTxBytes = 0, wanRxBytes = 0, lanTxBytes = 0, lanRxBytes = 0
        public var seconds = 0.0
        public var peakWanTxGbps = 0.0
    }

    public func totals(_ records: [Record]) -> RegionTotals {
        var totals = RegionTotals()
        for record in records where ["second", "final"].contains(record["kind"] as? String ?? "") {
            totals.wanTxBytes += Self.int(record["wan_tx_bytes"])
            totals.wanRxBytes += Self.int(record["wan_rx_bytes"])
            totals.lanTxBytes += Self.int(record["lan_tx_bytes"])
            totals.lanRxBytes += Self.int(record["lan_rx_bytes"])
            totals.seconds += Self.double(record["window_s"])
            if record["kind"] as? String == "second" {
                totals.peakWanTxGbps = max(totals.peakWanTxGbps, Self.double(record["wan_tx_gbps"]))
            }
        }
        return totals
    }

    static func int(_ value: Any?) -> Int { (value as? NSNumber)?.intValue ?? 0 }
    static func double(_ value: Any?) -> Double { (value as? NSNumber)?.doubleValue ?? 0 }

    /// The text report (what `straits report` prints).
    public func table() -> String {
        var lines: [String] = []
        let status = summary["status"] as? String ?? "unknown"
        lines.append(
            "run \(path): job \(summary["job"] as? String ?? "?") (\(summary["kind"] as? String ?? "?")) on topology \(summary["topology"] as? String ?? "?"), \(Self.int(summary["ranks"])) ranks, \(Self.int(summary["steps"])) steps in \(String(format: "%.1f", Self.double(summary["wall_s"]))) s — \(status)"
        )
        if let reason = summary["reason"] as? String { lines.append("reason: \(reason)") }
        let regionSummaries = (summary["regions"] as? [Record]) ?? []
        lines.append("")
        lines.append(
            Self.row(["region", "WAN tx", "WAN rx", "WAN tx Gbps", "peak Gbps", "LAN tx", "samples/s", "comm share"]))
        var sentAll = 0
        var receivedAll = 0
        for region in regions {
            let t = totals(region.records)
            sentAll += t.wanTxBytes
            receivedAll += t.wanRxBytes
            let summaryRow = regionSummaries.first { $0["region"] as? String == region.name } ?? [:]
            let gbps = t.seconds > 0 ? Double(t.wanTxBytes) * 8 / t.seconds / 1e9 : 0
            lines.append(
                Self.row([
                    region.name, Self.bytes(t.wanTxBytes), Self.bytes(t.wanRxBytes), String(format: "%.3f", gbps),
                    String(format: "%.3f", t.peakWanTxGbps), Self.bytes(t.lanTxBytes),
                    String(format: "%.1f", Self.double(summaryRow["samples_per_s"])),
                    String(format: "%.0f%%", Self.double(summaryRow["comm_share"]) * 100),
                ]))
        }
        lines.append(
            "WAN bytes sent \(sentAll), received \(receivedAll): \(sentAll == receivedAll ? "balanced" : "NOT balanced")"
        )
        if !bench.isEmpty {
            lines.append("")
            lines.append(Self.row(["size", "time(us)", "algbw(GB/s)", "busbw(GB/s)", "#wrong"], width: 13) + "  plan")
            for row in bench {
                lines.append(
                    Self.row(
                        [
                            String(Self.int(row["size_bytes"])), String(format: "%.1f", Self.double(row["time_us"])),
                            String(format: "%.3f", Self.double(row["algbw_gbps"])),
                            String(format: "%.3f", Self.double(row["busbw_gbps"])),
                            String(Self.int(row["wrong"])),
                        ], width: 13) + "  " + (row["algo"] as? String ?? ""))
            }
        }
        let trainingLines = trainingTable()
        if !trainingLines.isEmpty {
            lines.append("")
            lines += trainingLines
        }
        let linkLines = linkTable()
        if !linkLines.isEmpty {
            lines.append("")
            lines += linkLines
        }
        let failures = events.filter {
            ["worker_dead", "worker_failed", "abort", "refused"].contains($0["event"] as? String ?? "")
        }
        if !failures.isEmpty {
            lines.append("")
            for event in failures {
                lines.append("event \(event["event"] as? String ?? ""): \(event["reason"] as? String ?? "")")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Training jobs: the schedules side by side (from the summary).
    func trainingTable() -> [String] {
        guard let training = summary["training"] as? Record, let schedules = training["schedules"] as? [Record],
            !schedules.isEmpty
        else { return [] }
        var lines = [
            Self.row(
                [
                    "schedule", "steps", "final loss", "wall s", "WAN MB", "WAN/step÷ddp", "to target s",
                    "WAN→target MB",
                ], width: 16)
                + "  compute utilisation"
        ]
        for schedule in schedules {
            let utilisation = (schedule["compute_utilisation"] as? Record ?? [:]).sorted { $0.key < $1.key }
                .map { "\($0.key) \(String(format: "%.1f%%", Self.double($0.value) * 100))" }.joined(separator: ", ")
            func optional(_ key: String, _ format: String, scale: Double = 1) -> String {
                schedule[key] is NSNull || schedule[key] == nil
                    ? "-" : String(format: format, Self.double(schedule[key]) * scale)
            }
            lines.append(
                Self.row(
                    [
                        schedule["name"] as? String ?? "?", String(Self.int(schedule["steps"])),
                        optional("final_loss", "%.4f"),
                        optional("wall_s", "%.1f"), optional("wan_bytes", "%.1f", scale: 1e-6),
                        optional("wan_bytes_vs_ddp", "%.3f"),
                        schedule["reached_target"] as? Bool == true
                            ? optional("time_to_target_s", "%.1f") : "not reached",
                        optional("wan_bytes_to_target", "%.1f", scale: 1e-6),
                    ], width: 16) + "  " + utilisation)
        }
        if training["target_loss"] is NSNumber {
            lines.append(
                "target loss \(String(format: "%.4f", Self.double(training["target_loss"]))) (\(training["target_from"] as? String ?? ""))"
            )
        }
        if let compute = summary["compute"] as? String { lines.append("compute: \(compute)") }
        return lines
    }

    /// Training jobs: per schedule, the mean loss over ranks at each step against the
    /// schedule's wall-clock time and against its cumulative WAN bytes.
    func lossSeries() -> (time: [SVGChart.Series], bytes: [SVGChart.Series]) {
        var order: [String] = []
        var perStep: [String: [Int: (loss: Double, ranks: Int, wall: Double, wan: Int)]] = [:]
        for record in steps {
            guard let schedule = record["schedule"] as? String, let loss = record["loss"] as? NSNumber else { continue }
            if perStep[schedule] == nil { order.append(schedule) }
            let index = Self.int(record["schedule_step"])
            var entry = perStep[schedule, default: [:]][index] ?? (0, 0, Self.double(record["wall_s"]), 0)
            entry.loss += loss.doubleValue
            entry.ranks += 1
            entry.wan += Self.int(record["wan_bytes"])
            perStep[schedule, default: [:]][index] = entry
        }
        var time: [SVGChart.Series] = []
        var bytes: [SVGChart.Series] = []
        for schedule in order {
            var clock = 0.0
            var sent = 0
            var timePoints: [(x: Double, y: Double)] = []
            var bytePoints: [(x: Double, y: Double)] = []
            for (_, entry) in perStep[schedule]!.sorted(by: { $0.key < $1.key }) {
                clock += entry.wall
                sent += entry.wan
                let loss = entry.loss / Double(entry.ranks)
                timePoints.append((clock, loss))
                bytePoints.append((Double(sent) / 1e6, loss))
            }
            time.append(SVGChart.Series(name: schedule, points: timePoints))
            bytes.append(SVGChart.Series(name: schedule, points: bytePoints))
        }
        return (time, bytes)
    }

    /// Per directed WAN link: what was offered and delivered, mean and peak delivered rate, how
    /// busy the link was, queueing delay and delivery lateness (from the gateways' records): how
    /// late the gateway sent messages on (`late p99`), and how late after they arrived the ranks
    /// that waited for them took them (`taken p99`, where the receivers counted it).
    func linkTable() -> [String] {
        let shaped = links.filter {
            $0["shaped"] as? Bool == true && ["second", "final"].contains($0["kind"] as? String ?? "")
        }
        guard !shaped.isEmpty else { return [] }
        func key(_ record: Record) -> String { "\(record["from"] as? String ?? "")→\(record["to"] as? String ?? "")" }
        let names = Array(Set(shaped.map(key))).sorted()
        let first = (names.map(\.count).max() ?? 4) + 2
        var lines = [
            padded("link", first)
                + Self.row(
                    [
                        "", "declared", "offered", "delivered", "mean Gbps", "peak Gbps", "busy", "queue ms",
                        "max q ms", "late p99", "taken p99",
                    ], width: 11
                ).dropFirst(11)
        ]
        for link in names {
            let records = shaped.filter { key($0) == link }
            let seconds = records.reduce(0) { $0 + Self.double($1["window_s"]) }
            let offered = records.reduce(0) { $0 + Self.int($1["offered_bytes"]) }
            let delivered = records.reduce(0) { $0 + Self.int($1["delivered_bytes"]) }
            let busy = records.reduce(0) { $0 + Self.double($1["utilisation"]) * Self.double($1["window_s"]) }
            let weightedDelay = records.reduce(0) {
                $0 + Self.double($1["queue_delay_ms"]) * Double(Self.int($1["delivered_bytes"]))
            }
            let peak =
                records.filter { $0["kind"] as? String == "second" }.map { Self.double($0["delivered_gbps"]) }.max()
                ?? 0
            let last = records.last ?? [:]
            lines.append(
                padded(link, first)
                    + Self.row(
                        [
                            "", String(format: "%g Gbps", Self.double(last["bandwidth_bps"]) / 1e9),
                            Self.bytes(offered), Self.bytes(delivered),
                            String(format: "%.3f", seconds > 0 ? Double(delivered) * 8 / seconds / 1e9 : 0),
                            String(format: "%.3f", peak),
                            String(format: "%.0f%%", seconds > 0 ? busy / seconds * 100 : 0),
                            String(format: "%.2f", delivered > 0 ? weightedDelay / Double(delivered) : 0),
                            String(format: "%.1f", records.map { Self.double($0["queue_delay_max_ms"]) }.max() ?? 0),
                            String(format: "%.0f µs", Self.double(last["late_p99_us"])),
                            last["arrival_late_p99_us"] == nil
                                ? "-" : String(format: "%.0f µs", Self.double(last["arrival_late_p99_us"])),
                        ], width: 11
                    ).dropFirst(11))
        }
        return lines
    }

    public static func row(_ cells: [String], width: Int = 14) -> String {
        cells.enumerated().map { index, cell in
            index == 0
                ? cell.padding(toLength: max(width, cell.count), withPad: " ", startingAt: 0)
                : String(repeating: " ", count: max(0, width - cell.count)) + cell
        }.joined()
    }

    static func bytes(_ count: Int) -> String {
        let value = Double(count)
        if value >= 1e9 { return String(format: "%.2f GB", value / 1e9) }
        if value >= 1e6 { return String(format: "%.1f MB", value / 1e6) }
        if value >= 1e3 { return String(format: "%.1f kB", value / 1e3) }
        return "\(count) B"
    }
}
