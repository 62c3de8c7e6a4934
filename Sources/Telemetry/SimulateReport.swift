import Foundation

/// `straits report DIR` for a `straits simulate --sweep` directory: the grid's table, and
/// `report.html` with compute utilisation against WAN bandwidth, one line per schedule (and per
/// other axis value), the picture for choosing links. For `--solve` over a grid or several
/// targets (solve.jsonl): the least bandwidth per schedule and target, charted against the
/// target, one chart per scenario, each also written as an SVG file of its own.
public struct SimulateReport {
    public typealias Record = [String: Any]

    public let path: String
    public let rows: [Record]

    /// Whether the rows are least bandwidths (solve.jsonl) rather than a sweep's results.
    public let solved: Bool

    public static func isSimulateSweep(_ path: String) -> Bool {
        ["/simulate.jsonl", "/solve.jsonl"].contains { FileManager.default.fileExists(atPath: path + $0) }
    }

    public init(path: String) throws {
        self.path = path
        solved = FileManager.default.fileExists(atPath: path + "/solve.jsonl")
        rows = try RunReport.readLines(path + (solved ? "/solve.jsonl" : "/simulate.jsonl"))
    }

    static func double(_ row: Record, _ key: String) -> Double { (row[key] as? NSNumber)?.doubleValue ?? 0 }

    /// A rate to three figures: `14.9 Gbps`, `688 Mbps`.
    static func rate(_ bps: Double) -> String {
        bps >= 1e9 ? String(format: "%.3g Gbps", bps / 1e9) : String(format: "%.3g Mbps", bps / 1e6)
    }

    /// A line of the chart: the schedule, and the latency and replicas where the grid varies them.
    func series(_ row: Record) -> String {
        var name = row["sync"] as? String ?? "?"
        if Set(rows.map { Self.double($0, "latency_s") }).count > 1 {
            name += String(format: " @ %g ms", Self.double(row, "latency_s") * 1e3)
        }
        if Set(rows.map { Self.double($0, "replicas") }).count > 1 {
            name += " × \(Int(Self.double(row, "replicas"))) replicas"
        }
        return name
    }

    /// The targets solved for, and the (scenario, schedule) pairs in the order met.
    var solvedGrid: (targets: [Double], pairs: [(name: String, sync: String)]) {
        var targets: [Double] = []
        var pairs: [(name: String, sync: String)] = []
        for row in rows {
            let target = Self.double(row, "target_utilisation")
            if !targets.contains(target) { targets.append(target) }
            let pair = (name: row["name"] as? String ?? "?", sync: series(row))
            if !pairs.contains(where: { $0 == pair }) { pairs.append(pair) }
        }
        return (targets, pairs)
    }

    func bandwidth(name: String, sync: String, target: Double) -> Double? {
        rows.first {
            $0["name"] as? String == name && series($0) == sync && Self.double($0, "target_utilisation") == target
        }.flatMap { ($0["bandwidth_bps"] as? NSNumber)?.doubleValue }
    }

    func solvedTable() -> String {
        let (targets, pairs) = solvedGrid
        var lines = [
            "least WAN bandwidth per link for a compute utilisation (\(path)); \"-\": no bandwidth reaches it"
        ]
        lines.append(
            RunReport.row(["scenario", "schedule"] + targets.map { String(format: "%g%%", $0 * 100) }, width: 16))
        for pair in pairs {
            let cells = targets.map { target in
                bandwidth(name: pair.name, sync: pair.sync, target: target).map { Self.rate($0) } ?? "-"
            }
            lines.append(RunReport.row([pair.name, pair.sync] + cells, width: 16))
        }
        return lines.joined(separator: "\n")
    }

    func solvedCharts() -> [(name: String, chart: SVGChart)] {
        let (targets, pairs) = solvedGrid
        var names: [String] = []
        for pair in pairs where !names.contains(pair.name) { names.append(pair.name) }
        return names.map { name in
            let series = pairs.filter { $0.name == name }.map { pair in
                SVGChart.Series(
                    name: pair.sync,
                    points: targets.compactMap { target in
                        bandwidth(name: name, sync: pair.sync, target: target).map { (target * 100, $0 / 1e9) }
                    })
            }
            return (
                name,
                SVGChart(
                    title: "\(name): least WAN bandwidth per link for a compute utilisation",
                    xLabel: "compute utilisation (%)", yLabel: "Gbit/s per link", series: series, logY: true)
            )
        }
    }

    public func table() -> String {
        if solved { return solvedTable() }
        var lines = ["simulate sweep \(path): \(rows.count) points"]
        lines.append(
            RunReport.row(
                ["schedule", "bandwidth", "latency", "replicas", "step s", "utilisation", "sync s", "WAN GB"], width: 13
            ))
        for row in rows {
            lines.append(
                RunReport.row(
                    [
                        row["sync"] as? String ?? "",
                        Self.rate(Self.double(row, "bandwidth_bps")),
                        String(format: "%g ms", Self.double(row, "latency_s") * 1e3),
                        String(Int(Self.double(row, "replicas"))),
                        String(format: "%.4g", Self.double(row, "step_time_s")),
                        String(format: "%.1f%%", Self.double(row, "compute_utilisation") * 100),
                        String(format: "%.4g", Self.double(row, "sync_time_s")),
                        String(format: "%.4g", Self.double(row, "wan_bytes_total") / 1e9),
                    ], width: 13))
        }
        return lines.joined(separator: "\n")
    }

    public func charts() -> [SVGChart] {
        if solved { return solvedCharts().map(\.chart) }
        var order: [String] = []
        var points: [String: [(x: Double, y: Double)]] = [:]
        for row in rows {
            let name = series(row)
            if points[name] == nil { order.append(name) }
            points[name, default: []].append(
                (Self.double(row, "bandwidth_bps") / 1e9, Self.double(row, "compute_utilisation") * 100))
        }
        return [
            SVGChart(
                title: "Compute utilisation against WAN bandwidth", xLabel: "WAN bandwidth per link (Gbit/s)",
                yLabel: "% of the time computing",
                series: order.map { SVGChart.Series(name: $0, points: points[$0]!.sorted { $0.x < $1.x }) },
                decadesX: true)
        ]
    }

    public func html() -> String {
        ReportPage.html(
            title: "Straits simulate sweep \(path)", heading: "Straits simulate sweep", text: table(),
            charts: charts(), textFirst: false)
    }

    /// Writes report.html, and with solutions each scenario's chart as wan-needed-NAME.svg.
    @discardableResult
    public func write() throws -> String {
        if solved {
            for (name, chart) in solvedCharts() {
                _ = try ReportPage.write(chart.svg + "\n", to: path + "/wan-needed-\(name).svg")
            }
        }
        return try ReportPage.write(html(), to: path + "/report.html")
    }
}
