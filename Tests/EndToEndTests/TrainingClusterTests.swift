import Config
import Foundation
import Telemetry
import Testing
import Training

/// Training across a real two-region cluster (coordinator, gateways, workers), checked against
/// the maths done in this process.
@Suite("training: real gradients across regions", .serialized)
struct TrainingClusterTests {
    /// The equivalence job of `steps` steps: DDP and DiLoCo H = 1 (outer lr 1, no momentum),
    /// then `more` schedules.
    static func job(steps: Int, more: [String]) -> String {
        """
        name: equivalence
        kind: train
        steps: \(steps)
        model: { layers: [8, 256, 128, 4] }
        data: { seed: 5, batch: 8, shard: 64 }
        optimizer: { name: sgd, lr: 0.05, momentum: 0.9 }
        bucket: 32KiB
        timeout: 20s
        schedules:
          - { name: ddp, sync: ddp }
          - { name: diloco-h1, sync: diloco, every: 1, outer_lr: 1, outer_momentum: 0 }

        """ + more.map { "  - \($0)\n" }.joined()
    }

    static let job = job(
        steps: 12,
        more: [
            "{ name: ddp-int8, sync: ddp, compression: int8 }",
            "{ name: diloco-bf16, sync: diloco, every: 4, compression: bf16 }",
        ])

    /// Two regions of different shapes: 2 hosts of two devices, and 1 of three.
    static let uneven = """
        name: uneven
        regions:
          - { name: big, hosts: 2, devices_per_host: 2 }
          - { name: small, hosts: 1, devices_per_host: 3 }
        links:
          - { between: [big, small], bandwidth: 1Gbps, latency: 2ms }
        """

    static func parameters(_ path: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// Waits for the job; records an issue with the coordinator's log unless it exits 0.
    static func finished(_ cluster: LocalCluster) -> Bool {
        let status = LocalCluster.wait(cluster.coordinator!, timeout: 120)
        #expect(status == 0, "coordinator: \(cluster.log("coordinator"))")
        return status == 0
    }

    /// Largest |a − b| over max(1, |b|).
    static func distance(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
    }

    @Test(
        "DDP ends where one process on the union of the shards ends; DiLoCo H=1, outer lr 1, no momentum ends where DDP ends; compressed schedules keep replicas identical and cut WAN bytes"
    )
    func equivalence() throws {
        let cluster = try LocalCluster(name: "train")
        try cluster.startTwoRegions(job: Self.job)
        guard Self.finished(cluster) else { return }

        let spec = try JobSpec.parse(Self.job, file: "job.yaml").training!
        let reference = ReferenceTrainer(spec: spec, ranks: 8)
        let losses = reference.train(steps: 12)
        let expected = Array(reference.parameters)
        let ddp = try Self.parameters(cluster.runDirectory + "/model-ddp.bin")
        #expect(ddp.count == expected.count)
        #expect(Self.distance(ddp, expected) < 2e-5, "DDP vs the union of the shards: \(Self.distance(ddp, expected))")
        let diloco = try Self.parameters(cluster.runDirectory + "/model-diloco-h1.bin")
        #expect(Self.distance(diloco, ddp) < 2e-5, "DiLoCo H=1 vs DDP: \(Self.distance(diloco, ddp))")
        let int8 = try Self.parameters(cluster.runDirectory + "/model-ddp-int8.bin")
        #expect(
            Self.distance(int8, ddp) < 0.05,
            "int8 with error feedback drifts from fp32 DDP by \(Self.distance(int8, ddp))")

        // Every schedule ended with identical replicas (the coordinator checks CRCs).
        let identical = try cluster.lines("events.jsonl").filter { $0["event"] as? String == "replicas_identical" }
        #expect(identical.map { $0["schedule"] as? String } == ["ddp", "diloco-h1", "ddp-int8", "diloco-bf16"])

        // The losses the cluster logged for DDP are the reference's (the mean of the shards' losses).
        let steps = try cluster.lines("steps.jsonl").filter { $0["schedule"] as? String == "ddp" }
        #expect(steps.count == 12 * 8)
        for step in 0..<12 {
            let ranks = steps.filter { $0["schedule_step"] as? Int == step }.compactMap { $0["loss"] as? Double }
            let mean = ranks.reduce(0, +) / Double(ranks.count)
            #expect(
                abs(mean - losses[step]) < 1e-4 * max(1, losses[step]),
                "step \(step): cluster \(mean), reference \(losses[step])")
        }

        let summary = try cluster.summary()
        let schedules = try #require((summary["training"] as? [String: Any])?["schedules"] as? [[String: Any]])
        let ratios = Dictionary(
            uniqueKeysWithValues: schedules.map { ($0["name"] as! String, $0["wan_bytes_vs_ddp"] as? Double ?? -1) })
        #expect(
            ratios["ddp-int8"]! > 0.2 && ratios["ddp-int8"]! < 0.28,
            "int8 sends \(ratios["ddp-int8"]!) of DDP's WAN bytes")
        #expect(
            ratios["diloco-bf16"]! < 0.5 / 4 + 0.02,
            "bf16 every 4 steps sends \(ratios["diloco-bf16"]!) of DDP's WAN bytes")
        for schedule in schedules {
            let utilisation = try #require(schedule["compute_utilisation"] as? [String: Double])
            #expect(utilisation.keys.sorted() == ["eu-west", "us-east"])
        }

        // The run rebuilt by straits simulate --from-run: the bytes that crossed regions are the
        // bytes its schedules send there, exactly; the compressed schedules are said not to be
        // modelled; every predicted step time is a time.
        let json = cluster.directory.appendingPathComponent("from-run.json").path
        let predicted = try runStraits(["simulate", "--from-run", cluster.runDirectory, "--json", json])
        #expect(predicted.status == 0 && predicted.output.contains("diloco-h1"), "\(predicted.output)")
        let rows = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [[String: Any]])
        #expect(rows.map { $0["schedule"] as? String } == ["ddp", "diloco-h1", "ddp-int8", "diloco-bf16"])
        for row in rows {
            let name = row["schedule"] as? String ?? ""
            if name.contains("int8") || name.contains("bf16") {
                #expect((row["unmodelled"] as? String ?? "").contains("not modelled"), "\(row)")
                continue
            }
            #expect(row["measured_wan_bytes"] as? Double == row["predicted_wan_bytes"] as? Double, "\(row)")
            #expect((row["predicted_step_s"] as? Double ?? 0) > 0, "\(row)")
        }
    }

    @Test(
        "regions of different shapes (2 hosts of two devices, 1 of three): DDP ends where one process on the union of the seven shards ends, DiLoCo H=1 (outer lr 1, no momentum) where DDP ends, and every schedule's replicas agree at every step"
    )
    func unevenRegions() throws {
        let cluster = try LocalCluster(name: "train-uneven")
        let topology = try cluster.write("uneven.yaml", Self.uneven)
        // The default job's schedules too (DiLoCo with outer momentum), and a quorum, so that the
        // coordinator checks every rank's CRC32C at every step: the replicas that should agree do.
        let job =
            Self.job(
                steps: 8,
                more: [
                    "{ name: local-h2, sync: hierarchical-local, every: 2 }",
                    "{ name: diloco-h4, sync: diloco, every: 4, outer_lr: 0.7, outer_momentum: 0.9 }",
                ]) + "quorum: { hosts: 3, regions: 2 }\n"
        let endpoint = try cluster.startCoordinator(topology: topology, job: try cluster.write("job.yaml", job))
        try cluster.startGateways(endpoint, topology: topology, regions: ["big", "small"])
        for (region, host, devices) in [("big", 0, 2), ("big", 1, 2), ("small", 0, 3)] {
            try cluster.startWorker(endpoint, region: region, host: host, devices: devices)
        }
        guard Self.finished(cluster) else { return }

        let reference = ReferenceTrainer(spec: try JobSpec.parse(job, file: "job.yaml").training!, ranks: 7)
        _ = reference.train(steps: 8)
        let ddp = try Self.parameters(cluster.runDirectory + "/model-ddp.bin")
        #expect(Self.distance(ddp, Array(reference.parameters)) < 2e-5)
        let diloco = try Self.parameters(cluster.runDirectory + "/model-diloco-h1.bin")
        #expect(Self.distance(diloco, ddp) < 2e-5, "DiLoCo H=1 vs DDP: \(Self.distance(diloco, ddp))")
        let identical = try cluster.lines("events.jsonl").filter { $0["event"] as? String == "replicas_identical" }
        #expect(identical.map { $0["schedule"] as? String } == ["ddp", "diloco-h1", "local-h2", "diloco-h4"])
    }

    @Test(
        "a hierarchical sync job on regions of different shapes (2 hosts of two devices, 1 of three): exact every step on every rank"
    )
    func unevenHierarchical() throws {
        let cluster = try LocalCluster(name: "sync-uneven")
        let topology = try cluster.write("uneven.yaml", Self.uneven)
        let endpoint = try cluster.startCoordinator(
            topology: topology,
            job: try cluster.write(
                "job.yaml", "name: h\nsteps: 6\ngradient: 1MiB\ncompute: 1ms\nalgo: hier\ntimeout: 20s\n"))
        try cluster.startGateways(endpoint, topology: topology, regions: ["big", "small"])
        for (region, host, devices) in [("big", 0, 2), ("big", 1, 2), ("small", 0, 3)] {
            try cluster.startWorker(endpoint, region: region, host: host, devices: devices)
        }
        guard Self.finished(cluster) else { return }
        let steps = try cluster.lines("steps.jsonl")
        #expect(steps.count == 6 * 7 && steps.allSatisfy { $0["wrong"] as? Int == 0 })
        #expect(steps.allSatisfy { ($0["plan"] as? String ?? "").hasPrefix("hier") }, "\(steps.first ?? [:])")
    }

    @Test("flat ring DDP compressed only on the hops that cross regions: replicas identical, parameters close to fp32")
    func flatCompressed() throws {
        let cluster = try LocalCluster(name: "train-flat")
        try cluster.startTwoRegions(
            job: """
                name: flat
                kind: train
                steps: 8
                algo: ring
                model: { layers: [8, 128, 64, 4] }
                optimizer: { name: sgd, lr: 0.05 }
                schedules:
                  - { name: ddp, sync: ddp }
                  - { name: ddp-fp16, sync: ddp, compression: fp16 }
                """)
        guard Self.finished(cluster) else { return }
        let identical = try cluster.lines("events.jsonl").filter { $0["event"] as? String == "replicas_identical" }
        #expect(identical.count == 2)
        let plain = try Self.parameters(cluster.runDirectory + "/model-ddp.bin")
        let half = try Self.parameters(cluster.runDirectory + "/model-ddp-fp16.bin")
        #expect(Self.distance(half, plain) < 0.01, "fp16 drifts from fp32 by \(Self.distance(half, plain))")
        let steps = try cluster.lines("steps.jsonl")
        #expect(steps.allSatisfy { ($0["plan"] as? String ?? "").hasPrefix("flat ring") })
    }

    @Test("compute utilisation in the summary is the steps' compute time over devices × wall time")
    func utilisationMatchesSteps() throws {
        let cluster = try LocalCluster(name: "train-util")
        try cluster.startTwoRegions(
            job: """
                name: util
                kind: train
                steps: 10
                model: { layers: [16, 64, 8] }
                compute: { device: h100, mfu: 0.5, scale: 200000 }
                schedules:
                  - { sync: hierarchical-local, every: 5 }
                """)
        guard Self.finished(cluster) else { return }
        let steps = try cluster.lines("steps.jsonl")
        let schedule = try #require(
            ((try cluster.summary()["training"] as? [String: Any])?["schedules"] as? [[String: Any]])?.first)
        let utilisation = try #require(schedule["compute_utilisation"] as? [String: Double])
        var walls: [Int: Double] = [:]
        for step in steps { walls[step["step"] as! Int] = step["wall_s"] as? Double }
        let wall = walls.values.reduce(0, +)
        for region in ["us-east", "eu-west"] {
            let mine = steps.filter { $0["region"] as? String == region }
            let compute = mine.reduce(0.0) { $0 + ($1["compute_s"] as! Double) }
            let devices = Set(mine.map { $0["rank"] as! Int }).count
            #expect(abs(utilisation[region]! - compute / (Double(devices) * wall)) < 1e-9)
            // Synthetic compute: each step is at least its emulated time.
            #expect(mine.allSatisfy { ($0["compute_s"] as! Double) >= ($0["emulated_compute_s"] as! Double) })
        }
        // Per region: samples/s and WAN bytes, which add up to the schedule's.
        let regions = try #require(schedule["regions"] as? [[String: Any]])
        #expect(regions.map { $0["region"] as? String } == ["us-east", "eu-west"])
        #expect(regions.reduce(0) { $0 + ($1["wan_tx_bytes"] as! Int) } == schedule["wan_bytes"] as! Int)
        #expect(regions.allSatisfy { ($0["samples_per_s"] as! Double) > 0 && ($0["wan_tx_gbps"] as! Double) > 0 })
        // Parameters are averaged across regions on steps 5 and 10 only.
        #expect(Set(steps.filter { $0["outer_sync"] as? Bool == true }.map { $0["schedule_step"] as! Int }) == [4, 9])
    }

    @Test("a bad training job fails at once, naming file, line and field")
    func badJob() throws {
        let cluster = try LocalCluster(name: "train-bad")
        let topology = try cluster.write("two.yaml", twoRegions)
        let job = try cluster.write(
            "bad.yaml", "name: bad\nkind: train\nmodel: { layers: [4, 2] }\nschedules:\n  - { sync: dilocco }\n")
        cluster.coordinator = try cluster.start(
            "coordinator", "straits-coordinator",
            ["--topology", topology, "--job", job, "--run-dir", cluster.runDirectory])
        let status = LocalCluster.wait(cluster.coordinator!, timeout: 10)
        #expect(status != nil && status != 0)
        #expect(cluster.log("coordinator").contains("bad.yaml:5: schedules[0].sync"), "\(cluster.log("coordinator"))")
    }

    @Test("SIGINT mid-training: exit 130, every JSONL line whole, the summary written with what ran")
    func interrupted() throws {
        let cluster = try LocalCluster(name: "train-int")
        try cluster.startTwoRegions(
            job: """
                name: long
                kind: train
                steps: 100000
                model: { layers: [16, 64, 8] }
                compute: { device: h100, mfu: 0.5, scale: 2000000 }
                schedules:
                  - { sync: ddp }
                """)
        let deadline = Date(timeIntervalSinceNow: 60)
        while Date() < deadline, cluster.recordedSteps() < 16 { usleep(100_000) }
        kill(cluster.coordinator!.processIdentifier, SIGINT)
        #expect(LocalCluster.wait(cluster.coordinator!, timeout: 15) == 130)
        let summary = try cluster.summary()
        #expect(summary["status"] as? String == "failed")
        let schedules = try #require((summary["training"] as? [String: Any])?["schedules"] as? [[String: Any]])
        #expect((schedules.first?["steps"] as? Int ?? 0) >= 2)
        for file in ["steps.jsonl", "events.jsonl", "regions/us-east.jsonl", "links.jsonl"] {
            _ = try cluster.lines(file)
        }
        for (name, worker) in cluster.workers {
            #expect(LocalCluster.wait(worker, timeout: 10) != nil, "\(name) still running")
        }
    }

    @Test("straits sweep --job trains at every point: a row per schedule, and straits report charts them")
    func trainingSweep() throws {
        let cluster = try LocalCluster(name: "train-sweep")
        let job = try cluster.write(
            "job.yaml",
            """
            name: tiny
            kind: train
            steps: 6
            model: { layers: [8, 32, 4] }
            schedules:
              - { name: ddp, sync: ddp }
              - { name: local, sync: hierarchical-local, every: 3 }
            """)
        let out = cluster.directory.appendingPathComponent("sweep").path
        let sweep = try cluster.start(
            "sweep", "straits",
            [
                "sweep", "--job", job, "--regions", "2", "--bandwidth", "1Gbps",
                "--latency", "1ms,2ms", "--out", out,
            ])
        cluster.workers["sweep"] = sweep  // stopped with the cluster whatever happens
        #expect(LocalCluster.wait(sweep, timeout: 120) == 0, "\(cluster.log("sweep"))")
        let rows = try RunReport.readLines(out + "/sweep.jsonl")
        #expect(rows.map { $0["schedule"] as? String } == ["ddp", "local", "ddp", "local"])
        #expect(
            rows.allSatisfy {
                ($0["wan_bytes"] as? Double ?? 0) > 0 && $0["final_loss"] is Double && $0["latency_s"] is Double
            })
        let csv = try String(contentsOfFile: out + "/sweep.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 5 && csv[0].hasPrefix("bandwidth_bps,latency_s,schedule"))
        // The sweep's processes reached each other over Unix-domain sockets, and each removed
        // its socket files when it finished.
        let temporary = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
        for point in try FileManager.default.contentsOfDirectory(atPath: out + "/runs") {
            let plan =
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: URL(fileURLWithPath: "\(out)/runs/\(point)/plan.json"))) as! [String: Any]
            let workers = plan["workers"] as! [[String: Any]]
            let gateways = plan["gateways"] as! [[String: Any]]
            #expect(workers.allSatisfy { ($0["endpoints"] as! [String]).allSatisfy { $0.hasPrefix("ipc://") } })
            #expect(
                gateways.allSatisfy { ($0["ingress"] as! [String]).allSatisfy { $0.isEmpty || $0.hasPrefix("ipc://") } }
            )
            for pid in (workers + gateways).map({ $0["pid"] as! Int }) {
                #expect(
                    !temporary.contains { $0.hasPrefix("straits-\(pid)-") },
                    "socket files of process \(pid) left behind")
            }
        }
        let report = try cluster.start("report", "straits", ["report", out])
        #expect(LocalCluster.wait(report, timeout: 30) == 0)
        #expect(cluster.log("report").contains("training sweep"))
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        #expect(html.contains("Time to the target loss against WAN bandwidth"))
    }
}
