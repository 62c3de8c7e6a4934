import Emulation
import Foundation

/// `straits report DIR` for a sweep's directory: the measured-against-model table and its
/// summary, and `report.html` with measured time against the model's and the ratio by size.
public struct SweepReport {
    public typealias Record = [String: Any]

    public let path: String
    public let rows: [Record]

    public static func isSweep(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/sweep.jsonl")
    }

    public init(path: String) throws {
        self.path = path
        rows = try RunReport.readLines(path + "/sweep.jsonl")
    }

    static func double(_ value: Any?) -> Double { (value as? NSNumber)?.doubleValue ?? 0 }
    static func int(_ value: Any?) -> Int { (value as? NSNumber)?.intValue ?? 0 }

    /// How busy the model kept the cores of the machine that ran the point (nil: not modelled).
    static func coresBusy(_ row: Record) -> Double? { (row["cores_busy"] as? NSNumber)?.doubleValue }

    /// Below this, the model leaves the cores at least half idle (`CollectiveSimulator.headroomBusy`).
    public static let headroomBusy = CollectiveSimulator.headroomBusy

    /// Measurements within ±10% of the model, overall and apart by how busy the model keeps the
    /// cores (rows whose model has none are counted only overall); `straits sweep` keeps one as
    /// it goes, the report one over the file.
    public struct Tally: Sendable {
        public private(set) var total = 0, within = 0
        /// Rows whose model keeps the cores under `headroomBusy`, and those of them within ±10%.
        public private(set) var headroom = 0, headroomWithin = 0
        /// Rows whose model keeps the cores busier, and those of them within ±10%.
        public private(set) var busier = 0, busierWithin = 0

        public init() {}

        public mutating func add(ratio: Double, coresBusy: Double?) {
            let isWithin = abs(ratio - 1) <= 0.10 ? 1 : 0
            total += 1
            within += isWithin
            guard let coresBusy else { return }
            if coresBusy < SweepReport.headroomBusy {
                headroom += 1
                headroomWithin += isWithin
            } else {
                busier += 1
                busierWithin += isWithin
            }
        }

        /// `part` of `whole` as a whole percentage ("-" of nothing).
        public static func percent(_ part: Int, _ whole: Int) -> String {
            whole == 0 ? "-" : "\(Int((Double(part) * 100 / Double(whole)).rounded()))%"
        }
    }

    static func rate(_ bps: Double) -> String {
        bps >= 1e9 ? String(format: "%g Gbps", bps / 1e9) : String(format: "%g Mbps", bps / 1e6)
    }

    /// A training sweep (`straits sweep --job`): a row per schedule and point.
    public var isTraining: Bool { rows.first?["schedule"] != nil }

    func trainingTable() -> String {
        var lines = ["training sweep \(path): \(rows.count) schedule runs"]
        lines.append(
            RunReport.row(
                [
                    "bandwidth", "latency", "schedule", "final loss", "wall s", "to target s", "WAN MB", "WAN÷ddp",
                    "compute",
                ], width: 14))
        for row in rows {
            let reached = row["reached_target"] as? Bool == true
            lines.append(
                RunReport.row(
                    [
                        Self.rate(Self.double(row["bandwidth_bps"])),
                        String(format: "%g ms", Self.double(row["latency_s"]) * 1e3),
                        row["schedule"] as? String ?? "", String(format: "%.4f", Self.double(row["final_loss"])),
                        String(format: "%.1f", Self.double(row["wall_s"])),
                        reached ? String(format: "%.1f", Self.double(row["time_to_target_s"])) : "not reached",
                        String(format: "%.1f", Self.double(row["wan_bytes"]) / 1e6),
                        String(format: "%.3f", Self.double(row["wan_bytes_vs_ddp"])),
                        String(format: "%.1f%%", Self.double(row["compute_utilisation"]) * 100),
                    ], width: 14))
        }
        return lines.joined(separator: "\n")
    }

    /// Per schedule and latency: time to the target loss (where reached) against WAN bandwidth.
    func trainingCharts() -> [SVGChart] {
        var order: [String] = []
        var points: [String: [(x: Double, y: Double)]] = [:]
        var compute: [String: [(x: Double, y: Double)]] = [:]
        for row in rows {
            let name =
                "\(row["schedule"] as? String ?? "?") @ \(String(format: "%g ms", Self.double(row["latency_s"]) * 1e3))"
            if points[name] == nil { order.append(name) }
            let bandwidth = Self.double(row["bandwidth_bps"]) / 1e6
            if row["reached_target"] as? Bool == true {
                points[name, default: []].append((bandwidth, Self.double(row["time_to_target_s"])))
            }
            compute[name, default: []].append((bandwidth, Self.double(row["compute_utilisation"]) * 100))
        }
        return [
            SVGChart(
                title: "Time to the target loss against WAN bandwidth", xLabel: "WAN bandwidth (Mbit/s)",
                yLabel: "seconds",
                series: order.map { SVGChart.Series(name: $0, points: (points[$0] ?? []).sorted { $0.x < $1.x }) },
                logY: true, decadesX: true),
            SVGChart(
                title: "Compute utilisation against WAN bandwidth", xLabel: "WAN bandwidth (Mbit/s)",
                yLabel: "% of the time computing",
                series: order.map { SVGChart.Series(name: $0, points: (compute[$0] ?? []).sorted { $0.x < $1.x }) },
                decadesX: true),
        ]
    }

    public func table() -> String {
        if isTraining { return trainingTable() }
        var lines = ["sweep \(path): \(rows.count) measurements"]
        lines.append(
            RunReport.row(
                [
                    "regions", "bandwidth", "latency", "algo", "size", "measured ms", "model ms", "ratio", "link util",
                    "cores",
                ], width: 12))
        var tally = Tally()
        var bound = 0
        var utilised = 0
        for row in rows {
            let ratio = Self.double(row["ratio"])
            let busy = Self.coresBusy(row)
            tally.add(ratio: ratio, coresBusy: busy)
            let isBound = row["link_bound"] as? Bool ?? false
            if isBound {
                bound += 1
                if Self.double(row["link_utilisation"]) >= 0.9 { utilised += 1 }
            }
            lines.append(
                RunReport.row(
                    [
                        String(Self.int(row["regions"])), Self.rate(Self.double(row["bandwidth_bps"])),
                        String(format: "%g ms", Self.double(row["latency_s"]) * 1e3), row["algo"] as? String ?? "",
                        String(Self.int(row["size_bytes"]) >> 20) + "M",
                        String(format: "%.2f", Self.double(row["measured_s"]) * 1e3),
                        String(format: "%.2f", Self.double(row["predicted_s"]) * 1e3), String(format: "%.3f", ratio),
                        isBound ? String(format: "%.0f%%", Self.double(row["link_utilisation"]) * 100) : "-",
                        busy.map { String(format: "%.0f%%", $0 * 100) } ?? "-",
                    ], width: 12))
        }
        lines.append(
            "within ±10% of the model: \(tally.within) of \(tally.total) (\(Tally.percent(tally.within, tally.total)))")
        if tally.headroom + tally.busier > 0 {
            lines.append(
                "where the model keeps this machine's cores less than \(Int(Self.headroomBusy * 100))% busy: \(tally.headroomWithin) of \(tally.headroom) within ±10% (\(Tally.percent(tally.headroomWithin, tally.headroom))); busier: \(tally.busierWithin) of \(tally.busier)"
            )
        }
        lines.append("bandwidth-bound measurements with the busiest link ≥ 90% utilised: \(utilised) of \(bound)")
        // Hierarchical against flat ring at the same point: measured speed-up beside the model's.
        var pairs: [String] = []
        let keyed = Dictionary(grouping: rows) { row in
            "\(Self.int(row["regions"]))|\(Self.double(row["bandwidth_bps"]))|\(Self.double(row["latency_s"]))|\(Self.int(row["size_bytes"]))"
        }
        for key in keyed.keys.sorted() {
            let group = keyed[key]!
            guard let ring = group.first(where: { $0["algo"] as? String == "ring" }),
                let hier = group.first(where: { $0["algo"] as? String == "hier" })
            else { continue }
            let measured = Self.double(ring["measured_s"]) / Self.double(hier["measured_s"])
            let predicted = Self.double(ring["predicted_s"]) / Self.double(hier["predicted_s"])
            pairs.append(
                "  \(Self.int(ring["regions"])) regions, \(Self.rate(Self.double(ring["bandwidth_bps"]))), \(String(format: "%g ms", Self.double(ring["latency_s"]) * 1e3)), \(Self.int(ring["size_bytes"]) >> 20)M: hier is \(String(format: "%.2f", measured))× faster than ring (model \(String(format: "%.2f", predicted))×, agreement \(String(format: "%.3f", measured / predicted)))"
            )
        }
        if !pairs.isEmpty {
            lines.append("hierarchical against flat ring:")
            lines += pairs
        }
        return lines.joined(separator: "\n")
    }

    public func charts() -> [SVGChart] {
        if isTraining { return trainingCharts() }
        var series: [SVGChart.Series] = []
        for algo in ["ring", "hier"] {
            let points = rows.filter { $0["algo"] as? String == algo }.map {
                (Self.double($0["predicted_s"]) * 1e3, Self.double($0["measured_s"]) * 1e3)
            }
            if !points.isEmpty { series.append(SVGChart.Series(name: algo, points: points, scatter: true)) }
        }
        let times = rows.flatMap { [Self.double($0["predicted_s"]) * 1e3, Self.double($0["measured_s"]) * 1e3] }.filter
        { $0 > 0 }
        if let low = times.min(), let high = times.max() {
            series.append(SVGChart.Series(name: "measured = model", points: [(low, low), (high, high)]))
        }
        var ratios: [SVGChart.Series] = []
        for algo in ["ring", "hier"] {
            let points = rows.filter { $0["algo"] as? String == algo }.map {
                (Double(Self.int($0["size_bytes"])), Self.double($0["ratio"]))
            }
            if !points.isEmpty { ratios.append(SVGChart.Series(name: algo, points: points, scatter: true)) }
        }
        var charts = [
            SVGChart(
                title: "All-reduce time: measured against the model", xLabel: "model (ms)", yLabel: "measured (ms)",
                series: series, logLog: true),
            SVGChart(
                title: "Measured / model by message size", xLabel: "message size (bytes)", yLabel: "measured / model",
                series: ratios, logX: true),
        ]
        var busy: [SVGChart.Series] = []
        for algo in ["ring", "hier"] {
            let points = rows.filter { $0["algo"] as? String == algo }.compactMap { row in
                Self.coresBusy(row).map { ($0 * 100, Self.double(row["ratio"])) }
            }
            if !points.isEmpty { busy.append(SVGChart.Series(name: algo, points: points, scatter: true)) }
        }
        if !busy.isEmpty {
            charts.append(
                SVGChart(
                    title: "Measured / model against how busy the model keeps the cores",
                    xLabel: "cores busy in the model (%)",
                    yLabel: "measured / model", series: busy))
        }
        return charts
    }

    public func html() -> String {
        ReportPage.html(
            title: "Straits sweep \(path)", heading: "Straits sweep report", text: table(), charts: charts(),
            textFirst: false)
    }

    @discardableResult
    public func write() throws -> String {
        try ReportPage.write(html(), to: path + "/report.html")
    }
}
