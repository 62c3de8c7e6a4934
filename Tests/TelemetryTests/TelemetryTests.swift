import Foundation
import Telemetry
import Testing

@Suite("telemetry: records, run directory, report")
struct TelemetryTests {
    @Test("JSON values encode compactly, keys in order, escapes and non-finite numbers handled")
    func json() {
        let value: JSONValue = .object([
            ("t", "x\"y\n"), ("n", 3), ("d", 0.25), ("whole", 2.0), ("nan", .double(.nan)),
            ("ok", true), ("none", .null), ("list", .array([1, "a"])),
        ])
        #expect(
            value.encoded == #"{"t":"x\"y\n","n":3,"d":0.25,"whole":2,"nan":null,"ok":true,"none":null,"list":[1,"a"]}"#
        )
        let parsed = try? JSONSerialization.jsonObject(with: Data(value.encoded.utf8)) as? [String: Any]
        #expect(parsed?["t"] as? String == "x\"y\n")
    }

    @Test(
        "a sweep's report counts the rows within ±10% of the model, apart where the model keeps the cores busy, and charts the ratio against it"
    )
    func sweepReport() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("straits-sweep-report-\(getpid())")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        // (ratio, cores busy): two quiet rows on the model, one quiet row off it, two busy rows, one off.
        let rows: [(Double, Double)] = [(1.02, 0.1), (0.97, 0.3), (1.2, 0.4), (1.05, 0.7), (1.5, 0.9)]
        let lines = rows.enumerated().map { index, row -> String in
            JSONValue.object([
                ("bandwidth_bps", 1e9), ("latency_s", 0.02), ("algo", index % 2 == 0 ? "ring" : "hier"),
                ("size_bytes", .int(1 << (20 + index))), ("regions", 2), ("measured_s", .double(row.0 * 0.1)),
                ("predicted_s", 0.1), ("ratio", .double(row.0)), ("link_bound", false), ("link_utilisation", 0.5),
                ("cores_busy", .double(row.1)),
            ]).encoded
        }
        // And a row from a cluster whose model had no cores (not a local one): counted, not split.
        let unmodelled = JSONValue.object([
            ("bandwidth_bps", 1e9), ("latency_s", 0.02), ("algo", "ring"), ("size_bytes", .int(1 << 26)),
            ("regions", 2),
            ("measured_s", 0.1), ("predicted_s", 0.1), ("ratio", 1.0), ("link_bound", false), ("link_utilisation", 0.5),
        ]).encoded
        try ((lines + [unmodelled]).joined(separator: "\n") + "\n").write(
            toFile: path + "/sweep.jsonl", atomically: true, encoding: .utf8)
        #expect(SweepReport.isSweep(path))
        let report = try SweepReport(path: path)
        let table = report.table()
        #expect(table.contains("within ±10% of the model: 4 of 6 (67%)"), "\(table)")
        #expect(table.contains("less than 50% busy: 2 of 3 within ±10% (67%); busier: 1 of 2"), "\(table)")
        #expect(table.contains("90%"))
        #expect(report.charts().contains { $0.title.contains("how busy the model keeps the cores") })
    }

    @Test("a run directory's records read back; the report's table and page show its data")
    func report() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("straits-telemetry-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let topology = path + "-t.yaml"
        let job = path + "-j.yaml"
        try "name: t\n".write(toFile: topology, atomically: true, encoding: .utf8)
        try "name: j\n".write(toFile: job, atomically: true, encoding: .utf8)
        defer {
            try? FileManager.default.removeItem(atPath: topology)
            try? FileManager.default.removeItem(atPath: job)
        }
        let run = try RunDirectory(
            path: path, regionNames: ["us-east", "eu west"], topologyFile: topology, jobFile: job)
        #expect(FileManager.default.fileExists(atPath: path + "/topology.yaml"))
        for (second, region) in [(0, "us-east"), (0, "eu west"), (1, "us-east"), (1, "eu west")] {
            run.regions[region]!.append(
                .object([
                    ("t", .string(RunDirectory.timestamp(Date(timeIntervalSince1970: 1_800_000_000 + Double(second))))),
                    ("kind", "second"), ("region", .string(region)), ("window_s", 1.0), ("step", .int(second)),
                    ("wan_tx_bytes", .int(region == "us-east" ? 125_000_000 : 62_500_000)),
                    ("wan_rx_bytes", .int(region == "us-east" ? 62_500_000 : 125_000_000)),
                    ("wan_tx_gbps", .double(region == "us-east" ? 1 : 0.5)), ("wan_rx_gbps", 0.5), ("lan_tx_bytes", 10),
                    ("lan_rx_bytes", 10),
                    ("lan_gbps", 0.0), ("samples_per_s", 100.0), ("compute_s", 0.5), ("comm_s", 0.5),
                ]))
        }
        #expect(FileManager.default.fileExists(atPath: path + "/regions/eu_west.jsonl"))
        // A link fault half-way: marked on the charts against time.
        run.events.append(
            .object([
                ("t", .string(RunDirectory.timestamp(Date(timeIntervalSince1970: 1_800_000_000.5)))),
                ("event", "link_fault"), ("from", "us-east"), ("to", "eu west"), ("state", "down"),
            ]))
        run.bench.append(
            .object([
                ("size_bytes", 65536), ("time_us", 100.0), ("algbw_gbps", 0.6), ("busbw_gbps", 1.2), ("wrong", 0),
                ("algo", "ring"),
            ]))
        run.bench.append(
            .object([
                ("size_bytes", 1_048_576), ("time_us", 900.0), ("algbw_gbps", 1.1), ("busbw_gbps", 2.2), ("wrong", 0),
                ("algo", "ring"),
            ]))
        run.write(
            "summary.json",
            .object([
                ("status", "ok"), ("job", "j"), ("kind", "bench"), ("topology", "t"), ("ranks", 4),
                ("regions", .array([.object([("region", "us-east"), ("comm_share", 0.5), ("samples_per_s", 100.0)])])),
            ]))
        let report = try RunReport(path: path)
        #expect(report.regions.map(\.name) == ["us-east", "eu_west"])
        let totals = report.totals(report.regions[0].records)
        #expect(totals.wanTxBytes == 250_000_000 && totals.seconds == 2)
        let table = report.table()
        #expect(table.contains("us-east") && table.contains("250.0 MB") && table.contains("1.000"))
        #expect(table.contains("WAN bytes sent 375000000, received 375000000: balanced"))
        #expect(table.contains("1048576"))
        let page = try String(contentsOfFile: try report.write(), encoding: .utf8)
        #expect(page.contains("<svg") && page.contains("WAN throughput sent per region") && page.contains("busbw"))
        #expect(page.contains("<polyline") && !page.contains("http://cdn") && !page.contains("<script src"))
        #expect(
            page.contains("stroke-dasharray=\"3,3\"")
                && page.contains("<title>link_fault: us-east eu west down</title>"))
    }

    @Test("a torn line is reported with its file and line")
    func tornLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("straits-torn-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try FileManager.default.createDirectory(atPath: path + "/regions", withIntermediateDirectories: true)
        try "{\"kind\":\"second\"}\n{\"kind\":\"sec".write(
            toFile: path + "/regions/a.jsonl", atomically: true, encoding: .utf8)
        #expect(throws: TelemetryError.self) { try RunReport(path: path) }
        do { _ = try RunReport(path: path) } catch {
            #expect("\(error)".hasSuffix("regions/a.jsonl:2: not a JSON object"))
        }
    }
}
