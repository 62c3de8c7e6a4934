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

    /// Reads every file of the run; a line that is not a JSON object is an error naming file and line.
    public init(path: String) throws {
        self.path = path
        let manager = FileManager.default
        guard manager.fileExists(atPath: path + "/summary.json") || manager.fileExists(atPath: path + "/regions") else {
            throw TelemetryError("\(path) is not a run directory (no summary.json, no regions/)")
        }
        summary = (try? Self.readLines(path + "/summary.json").first) ?? [:]
        let names = ((try? manager.contentsOfDirectory(atPath: path + "/regions")) ?? []).filter { $0.hasSuffix(".jsonl") }.sorted()
        var regions: [(String, [Record])] = []
        for name in names {
            regions.append((String(name.dropLast(6)), try Self.readLines(path + "/regions/" + name)))
        }
        // Keep the topology's order where the summary gives it.
        if let order = summary["regions"] as? [Record] {
            let ranked = order.compactMap { $0["region"] as? String }
            regions.sort { (ranked.firstIndex(of: $0.0) ?? Int.max, $0.0) < (ranked.firstIndex(of: $1.0) ?? Int.max, $1.0) }
        }
        self.regions = regions.map { (name: $0.0, records: $0.1) }
        bench = try Self.readLines(path + "/bench.jsonl", optional: true)
        steps = try Self.readLines(path + "/steps.jsonl", optional: true)
        events = try Self.readLines(path + "/events.jsonl", optional: true)
    }

    public static func readLines(_ file: String, optional: Bool = false) throws -> [Record] {
        guard let data = FileManager.default.contents(atPath: file) else {
            if optional { return [] }
            throw TelemetryError("cannot read \(file)")
        }
        var records: [Record] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
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
            if record["kind"] as? String == "second" { totals.peakWanTxGbps = max(totals.peakWanTxGbps, Self.double(record["wan_tx_gbps"])) }
        }
        return totals
    }

    static func int(_ value: Any?) -> Int { (value as? NSNumber)?.intValue ?? 0 }
    static func double(_ value: Any?) -> Double { (value as? NSNumber)?.doubleValue ?? 0 }

    /// The text report (what `straits report` prints).
    public func table() -> String {
        var lines: [String] = []
        let status = summary["status"] as? String ?? "unknown"
        lines.append("run \(path): job \(summary["job"] as? String ?? "?") (\(summary["kind"] as? String ?? "?")) on topology \(summary["topology"] as? String ?? "?"), \(Self.int(summary["ranks"])) ranks, \(Self.int(summary["steps"])) steps in \(String(format: "%.1f", Self.double(summary["wall_s"]))) s — \(status)")
        if let reason = summary["reason"] as? String { lines.append("reason: \(reason)") }
        let regionSummaries = (summary["regions"] as? [Record]) ?? []
        lines.append("")
        lines.append(Self.row(["region", "WAN tx", "WAN rx", "WAN tx Gbps", "peak Gbps", "LAN tx", "samples/s", "comm share"]))
        var sentAll = 0, receivedAll = 0
        for region in regions {
            let t = totals(region.records)
            sentAll += t.wanTxBytes
            receivedAll += t.wanRxBytes
            let summaryRow = regionSummaries.first { $0["region"] as? String == region.name } ?? [:]
            let gbps = t.seconds > 0 ? Double(t.wanTxBytes) * 8 / t.seconds / 1e9 : 0
            lines.append(Self.row([
                region.name, Self.bytes(t.wanTxBytes), Self.bytes(t.wanRxBytes), String(format: "%.3f", gbps),
                String(format: "%.3f", t.peakWanTxGbps), Self.bytes(t.lanTxBytes),
                String(format: "%.1f", Self.double(summaryRow["samples_per_s"])),
                String(format: "%.0f%%", Self.double(summaryRow["comm_share"]) * 100),
            ]))
        }
        lines.append("WAN bytes sent \(sentAll), received \(receivedAll): \(sentAll == receivedAll ? "balanced" : "NOT balanced")")
        if !bench.isEmpty {
            lines.append("")
            lines.append(Self.row(["size", "time(us)", "algbw(GB/s)", "busbw(GB/s)", "#wrong"], width: 13) + "  plan")
            for row in bench {
                lines.append(Self.row([
                    String(Self.int(row["size_bytes"])), String(format: "%.1f", Self.double(row["time_us"])),
                    String(format: "%.3f", Self.double(row["algbw_gbps"])), String(format: "%.3f", Self.double(row["busbw_gbps"])),
                    String(Self.int(row["wrong"])),
                ], width: 13) + "  " + (row["algo"] as? String ?? ""))
            }
        }
        let failures = events.filter { ["worker_dead", "worker_failed", "abort", "refused"].contains($0["event"] as? String ?? "") }
        if !failures.isEmpty {
            lines.append("")
            for event in failures { lines.append("event \(event["event"] as? String ?? ""): \(event["reason"] as? String ?? "")") }
        }
        return lines.joined(separator: "\n")
    }

    public static func row(_ cells: [String], width: Int = 14) -> String {
        cells.enumerated().map { index, cell in
            index == 0 ? cell.padding(toLength: max(width, cell.count), withPad: " ", startingAt: 0)
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

    /// The charts: per-region WAN and LAN throughput per second, step time per step, busbw by size.
    public func charts() -> [SVGChart] {
        let start = Self.date(summary["started"]) ?? regions.flatMap(\.records).compactMap { Self.date($0["t"]) }.min() ?? Date()
        func series(_ field: String) -> [SVGChart.Series] {
            regions.map { region in
                SVGChart.Series(name: region.name, points: region.records.filter { $0["kind"] as? String == "second" }.compactMap { record in
                    guard let t = Self.date(record["t"]) else { return nil }
                    return (t.timeIntervalSince(start), Self.double(record[field]))
                })
            }
        }
        var charts = [
            SVGChart(title: "WAN throughput sent per region", xLabel: "time (s)", yLabel: "Gbit/s", series: series("wan_tx_gbps")),
            SVGChart(title: "LAN throughput sent per region", xLabel: "time (s)", yLabel: "Gbit/s", series: series("lan_gbps")),
        ]
        let stepSeries = regions.map { region in
            SVGChart.Series(name: region.name, points: region.records.filter { $0["kind"] as? String == "step" }.map {
                (Double(Self.int($0["step"])), Self.double($0["comm_s"]) * 1e3)
            })
        }
        charts.append(SVGChart(title: "All-reduce time per step (mean over the region's devices)", xLabel: "step", yLabel: "ms", series: stepSeries))
        if !bench.isEmpty {
            charts.append(SVGChart(title: "All-reduce bus bandwidth against size", xLabel: "message size (bytes)", yLabel: "busbw (GB/s)",
                                   series: [SVGChart.Series(name: "busbw", points: bench.map { (Double(Self.int($0["size_bytes"])), Self.double($0["busbw_gbps"])) })],
                                   logX: true))
        }
        return charts
    }

    static func date(_ value: Any?) -> Date? {
        guard let text = value as? String else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    /// The HTML page: the table, then the charts, all inline.
    public func html() -> String {
        ReportPage.html(title: "Straits run \(path)", heading: "Straits run report", text: table(), charts: charts(), textFirst: true)
    }

    /// Prints the table and writes `report.html`; returns the page's path.
    @discardableResult
    public func write() throws -> String {
        try ReportPage.write(html(), to: path + "/report.html")
    }
}
