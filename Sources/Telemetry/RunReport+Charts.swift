import Foundation

extension RunReport {
    /// The charts: per-region WAN and LAN throughput per second, step time per step, busbw by size.
    public func charts() -> [SVGChart] {
        let start =
            Self.date(summary["started"]) ?? regions.flatMap(\.records).compactMap { Self.date($0["t"]) }.min()
            ?? Date()
        func series(_ field: String) -> [SVGChart.Series] {
            regions.map { region in
                SVGChart.Series(
                    name: region.name,
                    points: region.records.filter { $0["kind"] as? String == "second" }.compactMap { record in
                        guard let t = Self.date(record["t"]) else { return nil }
                        return (t.timeIntervalSince(start), Self.double(record[field]))
                    })
            }
        }
        var charts = [
            SVGChart(
                title: "WAN throughput sent per region", xLabel: "time (s)", yLabel: "Gbit/s",
                series: series("wan_tx_gbps")),
            SVGChart(
                title: "LAN throughput sent per region", xLabel: "time (s)", yLabel: "Gbit/s",
                series: series("lan_gbps")),
        ]
        // Faults and what became of them, on every chart against time.
        let marked = [
            "link_fault", "kill_fault", "worker_lost", "gateway_lost", "worker_rejoined", "gateway_rejoined",
            "recovered",
        ]
        let markers: [(x: Double, label: String)] = events.compactMap { event in
            guard let kind = event["event"] as? String, marked.contains(kind), let t = Self.date(event["t"]) else {
                return nil
            }
            let what = [event["from"], event["to"], event["state"], event["target"], event["member"], event["region"]]
                .compactMap { $0.map { "\($0)" } }.joined(separator: " ")
            return (t.timeIntervalSince(start), "\(kind): \(what)")
        }
        let linkNames = Array(
            Set(
                links.compactMap { record -> String? in
                    guard record["kind"] as? String == "second" else { return nil }
                    return "\(record["from"] as? String ?? "")→\(record["to"] as? String ?? "")"
                })
        ).sorted()
        if !linkNames.isEmpty {
            charts.append(
                SVGChart(
                    title: "Delivered per WAN link", xLabel: "time (s)", yLabel: "Gbit/s",
                    series: linkNames.map { name in
                        SVGChart.Series(
                            name: name,
                            points: links.filter {
                                $0["kind"] as? String == "second"
                                    && "\($0["from"] as? String ?? "")→\($0["to"] as? String ?? "")" == name
                            }.compactMap { record in
                                guard let t = Self.date(record["t"]) else { return nil }
                                return (t.timeIntervalSince(start), Self.double(record["delivered_gbps"]))
                            })
                    }))
        }
        let stepSeries = regions.map { region in
            SVGChart.Series(
                name: region.name,
                points: region.records.filter { $0["kind"] as? String == "step" }.map {
                    (Double(Self.int($0["step"])), Self.double($0["comm_s"]) * 1e3)
                })
        }
        charts.append(
            SVGChart(
                title: "All-reduce time per step (mean over the region's devices)", xLabel: "step", yLabel: "ms",
                series: stepSeries))
        let loss = lossSeries()
        if !loss.time.isEmpty {
            charts.insert(
                SVGChart(
                    title: "Training loss against wall-clock time, per schedule",
                    xLabel: "time since the schedule started (s)",
                    yLabel: "loss (mean over ranks)", series: loss.time, logY: true), at: 0)
            charts.insert(
                SVGChart(
                    title: "Training loss against WAN bytes sent, per schedule", xLabel: "WAN bytes sent (MB)",
                    yLabel: "loss (mean over ranks)", series: loss.bytes, logY: true), at: 1)
            charts.insert(
                SVGChart(
                    title: "Training throughput per region", xLabel: "step", yLabel: "samples/s",
                    series: regions.map { region in
                        SVGChart.Series(
                            name: region.name,
                            points: region.records.filter { $0["kind"] as? String == "step" }.map {
                                (Double(Self.int($0["step"])), Self.double($0["samples_per_s"]))
                            })
                    }), at: 2)
        }
        if !bench.isEmpty {
            charts.append(
                SVGChart(
                    title: "All-reduce bus bandwidth against size", xLabel: "message size (bytes)",
                    yLabel: "busbw (GB/s)",
                    series: [
                        SVGChart.Series(
                            name: "busbw",
                            points: bench.map { (Double(Self.int($0["size_bytes"])), Self.double($0["busbw_gbps"])) })
                    ],
                    logX: true))
        }
        for index in charts.indices where charts[index].xLabel == "time (s)" { charts[index].markers = markers }
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
        ReportPage.html(
            title: "Straits run \(path)", heading: "Straits run report", text: table(), charts: charts(),
            textFirst: true)
    }

    /// Prints the table and writes `report.html`; returns the page's path.
    @discardableResult
    public func write() throws -> String {
        try ReportPage.write(html(), to: path + "/report.html")
    }
}
