import Foundation

/// `straits report DIR` for a `straits simulate --sweep` directory: the grid's table, and
/// `report.html` with compute utilisation against WAN bandwidth, one line per schedule (and per
/// other axis value), the picture for choosing links.
public struct SimulateReport {
    public typealias Record = [String: Any]

    public let path: String
    public let rows: [Record]

    public static func isSimulateSweep(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/simulate.jsonl")
    }

    public init(path: String) throws {
        self.path = path
        rows = try RunReport.readLines(path + "/simulate.jsonl")
    }

    static func double(_ row: Record, _ key: String) -> Double { (row[key] as? NSNumber)?.doubleValue ?? 0 }

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

    public func table() -> String {
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
                        SweepReport.rate(Self.double(row, "bandwidth_bps")),
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

    @discardableResult
    public func write() throws -> String {
        try ReportPage.write(html(), to: path + "/report.html")
    }
}
