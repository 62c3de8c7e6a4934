import Foundation
import StraitsWire
import Testing
import ZeroMQ

/// A cluster of real coordinator and worker processes in a temporary run directory; every
/// process it starts is killed when it goes away, whatever the test did.
final class LocalCluster {
    let directory: URL
    let runDirectory: String
    var coordinator: Process?
    var workers: [String: Process] = [:]
    private var logs: [String: URL] = [:]

    init(name: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("straits-cluster-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        runDirectory = directory.appendingPathComponent("run").path
    }

    deinit {
        for process in [coordinator].compactMap({ $0 }) + Array(workers.values) where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        if ProcessInfo.processInfo.environment["STRAITS_KEEP_TEST_DIRS"] == nil {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func binary(_ name: String) throws -> URL {
        try straitsBinary().deletingLastPathComponent().appendingPathComponent(name)
    }

    func start(_ name: String, _ executable: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = try Self.binary(executable)
        process.arguments = arguments
        let log = directory.appendingPathComponent("\(name).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        logs[name] = log
        return process
    }

    func log(_ name: String) -> String {
        logs[name].flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
    }

    /// Starts the coordinator and waits for its endpoint.
    func startCoordinator(topology: String, job: String, extra: [String] = []) throws -> String {
        coordinator = try start(
            "coordinator", "straits-coordinator",
            ["--topology", topology, "--job", job, "--run-dir", runDirectory] + extra)
        let file = runDirectory + "/coordinator.endpoint"
        let deadline = Date(timeIntervalSinceNow: 30)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: file, encoding: .utf8), text.hasSuffix("\n") {
                return text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            if coordinator?.isRunning == false { break }
            usleep(50_000)
        }
        throw CocoaError(
            .fileNoSuchFile, userInfo: [NSDebugDescriptionErrorKey: "no coordinator endpoint: \(log("coordinator"))"])
    }

    /// Starts one gateway per region of `topology` (a path).
    func startGateways(_ endpoint: String, topology: String, regions: [String], extra: [String] = []) throws {
        for region in regions {
            let name = "gateway-\(region)"
            workers[name] = try start(
                name, "straits-gateway",
                ["--coordinator", endpoint, "--region", region, "--topology", topology] + extra)
        }
    }

    func startWorker(_ endpoint: String, region: String, host: Int, devices: Int, extra: [String] = []) throws {
        let name = "worker-\(region)-\(host)"
        workers[name] = try start(
            name, "straits-worker",
            [
                "--coordinator", endpoint, "--region", region, "--host", String(host),
                "--devices", String(devices),
            ] + extra)
    }

    /// Waits for `process` to exit, up to `timeout` seconds; its status, or nil if still running.
    static func wait(_ process: Process, timeout: Double) -> Int32? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// The objects of a JSONL file of the run directory. A finished file must end in a whole
    /// line; with `live`, the file is still being written, and a line not yet whole at its end
    /// (a write is copied in page by page, so a reader can see part of it) is left for later.
    func lines(_ file: String, live: Bool = false) throws -> [[String: Any]] {
        var text = try String(contentsOfFile: runDirectory + "/" + file, encoding: .utf8)
        if live { text = text.lastIndex(of: "\n").map { String(text[...$0]) } ?? "" }
        #expect(text.isEmpty || text.hasSuffix("\n"), "\(file) ends in a torn line")
        return try text.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return try #require(object, "\(file): not an object: \(line)")
        }
    }

    /// The steps recorded so far, while the job runs (`steps.jsonl`, read as a live file).
    func recordedSteps() -> Int { (try? lines("steps.jsonl", live: true))?.count ?? 0 }

    /// Starts a coordinator of `topology` and `job` (paths), a gateway per region, and `hosts`
    /// workers of `devices` devices in each region.
    func startThroughGateways(topology: String, job: String, regions: [String], hosts: Int, devices: Int) throws {
        let endpoint = try startCoordinator(topology: topology, job: job)
        try startGateways(endpoint, topology: topology, regions: regions)
        for region in regions {
            for host in 0..<hosts { try startWorker(endpoint, region: region, host: host, devices: devices) }
        }
    }

    /// Starts `job` (text) on regions a and b of `hosts` hosts of `devices` devices each, joined
    /// by `link` (a topology link's fields), through gateways.
    func startAB(hosts: Int, devices: Int, link: String, job: String) throws {
        let topology = try write(
            "ab.yaml",
            """
            name: ab
            regions:
              - { name: a, hosts: \(hosts), devices_per_host: \(devices) }
              - { name: b, hosts: \(hosts), devices_per_host: \(devices) }
            links:
              - { between: [a, b], \(link) }
            """)
        try startThroughGateways(
            topology: topology, job: try write("job.yaml", job), regions: ["a", "b"], hosts: hosts, devices: devices)
    }

    /// Starts a job on `twoRegions`: two regions of two hosts with two devices each.
    func startTwoRegions(job: String) throws {
        try startThroughGateways(
            topology: try write("two.yaml", twoRegions), job: try write("job.yaml", job),
            regions: ["us-east", "eu-west"], hosts: 2, devices: 2)
    }

    /// Starts a job on a one-region cluster of two single-device hosts and waits until at least
    /// `steps` step records are written.
    func startRunning(job: String, steps: Int) throws -> String {
        let topology = try write("one.yaml", "name: one\nregions:\n  - { name: r, hosts: 2, devices_per_host: 1 }\n")
        let endpoint = try startCoordinator(topology: topology, job: try write("job.yaml", job))
        try startWorker(endpoint, region: "r", host: 0, devices: 1)
        try startWorker(endpoint, region: "r", host: 1, devices: 1)
        let deadline = Date(timeIntervalSinceNow: 60)
        while Date() < deadline, recordedSteps() < steps { usleep(50_000) }
        return endpoint
    }

    func summary() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: runDirectory + "/summary.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

let twoRegions = """
    name: two
    regions:
      - { name: us-east, hosts: 2, devices_per_host: 2 }
      - { name: eu-west, hosts: 2, devices_per_host: 2 }
    links:
      - between: [us-east, eu-west]
        bandwidth: 1Gbps
        latency: 5ms
    """

@Suite("cluster: real coordinator and worker processes", .serialized)
struct ClusterTests {
    @Test("a 2-region run completes: exact every step, every JSONL line parses, bytes balance")
    func twoRegionRun() throws {
        let cluster = try LocalCluster(name: "run")
        try cluster.startTwoRegions(
            job: "name: small\nkind: sync\nsteps: 6\ngradient: 256KiB\ncompute: 2ms\ntimeout: 30s\n")
        let status = LocalCluster.wait(cluster.coordinator!, timeout: 120)
        #expect(status == 0, "\(cluster.log("coordinator"))")
        for (name, worker) in cluster.workers {
            #expect(LocalCluster.wait(worker, timeout: 10) == 0, "\(name): \(cluster.log(name))")
        }
        let summary = try cluster.summary()
        #expect(summary["status"] as? String == "ok" && summary["steps"] as? Int == 6 && summary["ranks"] as? Int == 8)
        #expect(summary["bytes_balanced"] as? Bool == true)

        let steps = try cluster.lines("steps.jsonl")
        #expect(steps.count == 6 * 8)
        #expect(steps.allSatisfy { $0["wrong"] as? Int == 0 })
        #expect(Set(steps.compactMap { $0["rank"] as? Int }) == Set(0..<8))
        #expect(steps.allSatisfy { ($0["plan"] as? String)?.hasPrefix("hier: host shm×2, region ring×2") == true })

        var wanTx = 0
        var wanRx = 0
        for region in ["us-east", "eu-west"] {
            let records = try cluster.lines("regions/\(region).jsonl")
            #expect(records.filter { $0["kind"] as? String == "step" }.count == 6)
            for record in records {
                for field in [
                    "t", "region", "window_s", "wan_tx_bytes", "wan_rx_bytes", "wan_tx_gbps", "wan_rx_gbps", "lan_gbps",
                    "step", "samples_per_s", "compute_s", "comm_s",
                ] {
                    #expect(record[field] != nil, "\(region): no \(field)")
                }
            }
            for record in records where ["second", "final"].contains(record["kind"] as? String) {
                wanTx += record["wan_tx_bytes"] as? Int ?? 0
                wanRx += record["wan_rx_bytes"] as? Int ?? 0
            }
        }
        #expect(wanTx > 0 && wanTx == wanRx, "per-second WAN bytes: sent \(wanTx), received \(wanRx)")
        // The gateways' view agrees: what they delivered is what the workers sent across regions.
        var gatewayDelivered = 0
        for region in ["us-east", "eu-west"] {
            for record in try cluster.lines("regions/\(region).jsonl")
            where ["second", "final"].contains(record["kind"] as? String) {
                #expect(record["wan_queue_delay_ms"] != nil)
                gatewayDelivered += record["gateway_delivered_bytes"] as? Int ?? 0
            }
        }
        #expect(gatewayDelivered == wanTx)
        let links = try cluster.lines("links.jsonl")
        let offered = links.reduce(0) { $0 + ($1["offered_bytes"] as? Int ?? 0) }
        let delivered = links.reduce(0) { $0 + ($1["delivered_bytes"] as? Int ?? 0) }
        #expect(offered == wanTx && delivered == wanRx)
        let events = try cluster.lines("events.jsonl").compactMap { $0["event"] as? String }
        #expect(
            events.filter { $0 == "join" }.count == 6 && events.contains("plan") && events.last == "finish", "\(events)"
        )
        // Through the gateways: every WAN link record is the gateway's, shaped.
        #expect(!links.isEmpty && links.allSatisfy { $0["shaped"] as? Bool == true })
        #expect(FileManager.default.fileExists(atPath: cluster.runDirectory + "/plan.json"))
        #expect(FileManager.default.fileExists(atPath: cluster.runDirectory + "/topology.yaml"))

        let report = try runStraits(["report", cluster.runDirectory])
        #expect(
            report.status == 0 && report.output.contains("us-east") && report.output.contains("balanced"),
            "\(report.output)")
        let page = try String(contentsOfFile: cluster.runDirectory + "/report.html", encoding: .utf8)
        #expect(page.contains("<svg") && page.contains("eu-west"))
    }

    @Test("the bench job writes bench.jsonl with the benchmark's fields")
    func benchJob() throws {
        let cluster = try LocalCluster(name: "bench")
        try cluster.startAB(
            hosts: 1, devices: 2, link: "bandwidth: 10Mbps, latency: 50ms",
            job: "name: b\nkind: bench\nmin_bytes: 256K\nmax_bytes: 1M\nstep_factor: 4\niters: 3\nwarmup: 1\n")
        #expect(LocalCluster.wait(cluster.coordinator!, timeout: 120) == 0, "\(cluster.log("coordinator"))")
        let rows = try cluster.lines("bench.jsonl")
        #expect(rows.map { $0["size_bytes"] as? Int } == [262144, 1 << 20])
        for row in rows {
            // Measured through real gateways against the model: a loose bound, so CI never flakes.
            let ratio = row["ratio"] as? Double ?? 0
            #expect(ratio > 0.7 && ratio < 1.3, "measured / model = \(ratio) at \(row["size_bytes"] ?? 0) bytes")
            for field in [
                "size_bytes", "count", "ranks", "algo", "transport", "time_us", "p50_us", "p99_us", "algbw_gbps",
                "busbw_gbps", "wrong",
            ] {
                #expect(row[field] != nil, "no \(field)")
            }
            #expect(row["wrong"] as? Int == 0 && row["ranks"] as? Int == 4)
        }
        #expect(cluster.log("coordinator").contains("busbw(GB/s)"))
        // straits simulate --from-run rebuilds the coordinator's model from the run directory:
        // the same prediction for every size, against the same measured makespan.
        let json = cluster.directory.appendingPathComponent("from-run.json").path
        let rebuilt = try runStraits(["simulate", "--from-run", cluster.runDirectory, "--json", json])
        #expect(rebuilt.status == 0, "\(rebuilt.output)")
        let predicted = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [[String: Any]])
        for (row, again) in zip(rows, predicted) {
            let recorded = (row["predicted_us"] as? Double ?? 0) / 1e6
            #expect(abs((again["predicted_s"] as? Double ?? 0) - recorded) <= 1e-9 + recorded * 1e-9, "\(again)")
            #expect(abs((again["measured_s"] as? Double ?? 0) - (row["time_us"] as? Double ?? 0) / 1e6) < 1e-9)
        }
        // One host per region: the hop the gateways allow for was measured straight between the
        // regions' hosts (before the probe through the gateways, whose 50 ms it must not race).
        let plan =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: cluster.runDirectory + "/plan.json"))) as? [String: Any]
        let measured = plan?["links_measured"] as? [[String: Any]] ?? []
        #expect(measured.map { $0["kind"] as? String } == ["hop", "wan"], "\(measured)")
        let hop = plan?["gateway_hop"] as? [String: Any]
        #expect(
            hop?["measured_as"] as? String == "hop" && (hop?["alpha_s"] as? Double ?? 0) > 0,
            "\(String(describing: hop))")
    }

    @Test(
        "through a 30 ms link a bench step's time is the makespan, at least what the link physically needs, though the slowest rank's own time can be less"
    )
    func makespanBench() throws {
        let cluster = try LocalCluster(name: "makespan")
        try cluster.startAB(
            hosts: 2, devices: 1, link: "bandwidth: 800Mbps, latency: 30ms",
            job: "name: m\nkind: bench\nsizes: [16MiB]\niters: 3\nwarmup: 1\nalgo: ring\ntimeout: 120s\n")
        #expect(LocalCluster.wait(cluster.coordinator!, timeout: 180) == 0, "\(cluster.log("coordinator"))")
        let row = try #require(try cluster.lines("bench.jsonl").first)
        let makespan = row["time_us"] as? Double ?? 0
        let rank = row["rank_time_us"] as? Double ?? 0
        // A flat ring of 4 ranks, two per region: one WAN direction carries 1.5 × 16 MiB (251.7 ms
        // at line rate, before any header) and its last byte lands 30 ms later.
        let floor = (1.5 * 16 * 1_048_576 * 8 / 800e6 + 0.030) * 1e6
        #expect(makespan >= floor, "makespan \(makespan) µs below the floor \(floor) µs")
        #expect(rank > 0 && rank <= makespan, "rank time \(rank) µs, makespan \(makespan) µs")
        let ratio = row["ratio"] as? Double ?? 0
        #expect(ratio > 0.8 && ratio < 1.25, "measured / model = \(ratio)")
    }

    /// The longest time between two steps' records, seconds: a step that waited out an outage
    /// (in its barriers or its all-reduce) ends that much after the one before it.
    static func longestExchange(_ steps: [[String: Any]]) -> Double {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var ends: [Int: Date] = [:]
        for record in steps {
            guard let step = record["step"] as? Int, let text = record["t"] as? String,
                let time = format.date(from: text)
            else { continue }
            ends[step] = max(ends[step] ?? time, time)
        }
        let times = ends.keys.sorted().map { ends[$0]! }
        return zip(times, times.dropFirst()).map { $1.timeIntervalSince($0) }.max() ?? 0
    }

    @Test(
        "a link dark for 1.5 s in the middle of a job: the gateways hold its traffic until it is back, the job finishes exact, and events.jsonl has the fault and its end"
    )
    func linkOutage() throws {
        let cluster = try LocalCluster(name: "outage")
        try cluster.startAB(
            hosts: 1, devices: 1, link: "bandwidth: 100Mbps, latency: 10ms",
            job: """
                name: outage
                steps: 30
                gradient: 64KiB
                compute: 20ms
                timeout: 30s
                faults:
                  - { link: [a, b], at: 300ms, for: 1500ms, down: true }
                """)
        #expect(LocalCluster.wait(cluster.coordinator!, timeout: 120) == 0, "\(cluster.log("coordinator"))")
        let faults = try cluster.lines("events.jsonl").filter { $0["event"] as? String == "link_fault" }
        #expect(
            faults.map { "\($0["from"]!)→\($0["to"]!) \($0["state"]!)" } == [
                "a→b down", "b→a down", "a→b up", "b→a up",
            ])
        let steps = try cluster.lines("steps.jsonl")
        #expect(steps.allSatisfy { $0["wrong"] as? Int == 0 })
        // One step waited out the outage, in its barriers or its all-reduce.
        let longest = Self.longestExchange(steps)
        #expect(longest > 0.75, "the longest step took \(longest) s")
        #expect(cluster.log("gateway-a").contains("link → b: down (a fault of the job)"), "\(cluster.log("gateway-a"))")
        let described = try runStraits(["job", cluster.directory.appendingPathComponent("job.yaml").path])
        #expect(
            described.output.contains("fault: a ↔ b down from 300 ms after the first step, for 1.5 s"),
            "\(described.output)")
        // trace.json in the Trace Event Format: every event named and placed, a track per rank,
        // the steps' spans, and each direction's outage as a span of 1.5 s.
        let data = try Data(contentsOf: URL(fileURLWithPath: cluster.runDirectory + "/trace.json"))
        let trace = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let events = try #require(trace["traceEvents"] as? [[String: Any]])
        for event in events {
            for field in ["name", "ph", "ts", "pid", "tid"] { #expect(event[field] != nil, "no \(field) in \(event)") }
            if event["ph"] as? String == "X" { #expect((event["dur"] as? Double ?? -1) >= 0, "\(event)") }
        }
        let tracks = events.filter { $0["name"] as? String == "thread_name" }.map {
            ($0["args"] as? [String: Any])?["name"] as? String ?? ""
        }
        #expect(Set(tracks) == ["rank 0", "rank 1", "a→b", "b→a"], "\(tracks)")
        #expect(events.filter { $0["cat"] as? String == "step" }.count >= 30 * 2)
        let outages = events.filter { $0["cat"] as? String == "fault" }
        #expect(outages.map { $0["name"] as? String ?? "" }.sorted() == ["a→b down", "b→a down"])
        #expect(outages.allSatisfy { abs(($0["dur"] as? Double ?? 0) - 1.5e6) < 0.2e6 }, "\(outages)")
        #expect(try cluster.summary()["status"] as? String == "ok")
    }

    @Test(
        "straits fault makes a running cluster's link dark at once: scheduled, carried out, recorded; a fault of an unknown region is refused with the reason"
    )
    func injectedFault() throws {
        let cluster = try LocalCluster(name: "inject")
        try cluster.startAB(
            hosts: 1, devices: 1, link: "bandwidth: 100Mbps, latency: 10ms",
            job: "name: inject\nsteps: 150\ngradient: 64KiB\ncompute: 20ms\ntimeout: 30s\n")
        let deadline = Date(timeIntervalSinceNow: 60)
        while Date() < deadline, cluster.recordedSteps() < 4 { usleep(50_000) }
        let endpoint = try String(contentsOfFile: cluster.runDirectory + "/coordinator.endpoint", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let bad = try runStraits(["fault", "--coordinator", endpoint, "{ link: [a, z], for: 1s, down: true }"])
        #expect(bad.status != 0 && bad.output.contains("no region \"z\""), "\(bad.output)")
        let good = try runStraits(["fault", "--coordinator", endpoint, "{ link: [a, b], for: 2s, down: true }"])
        #expect(good.status == 0 && good.output.contains("fault 0 scheduled in 0 s, for 2 s"), "\(good.output)")
        #expect(LocalCluster.wait(cluster.coordinator!, timeout: 120) == 0, "\(cluster.log("coordinator"))")
        let events = try cluster.lines("events.jsonl")
        #expect(events.contains { $0["event"] as? String == "fault_injected" })
        let states = events.filter { $0["event"] as? String == "link_fault" }.map { $0["state"] as? String ?? "" }
        #expect(states == ["down", "down", "up", "up"], "\(states)")
        let steps = try cluster.lines("steps.jsonl")
        #expect(steps.allSatisfy { $0["wrong"] as? Int == 0 })
        let longest = Self.longestExchange(steps)
        // (A gateway busy with the rest of the machine may take its orders late, so a margin.)
        #expect(longest > 0.5, "the longest step took \(longest) s")
    }

    @Test("a topology with a typo fails fast, naming file, line and field")
    func typo() throws {
        let cluster = try LocalCluster(name: "typo")
        let topology = try cluster.write(
            "bad.yaml", twoRegions.replacingOccurrences(of: "latency: 5ms", with: "latncy: 5ms"))
        let job = try cluster.write("job.yaml", "name: j\n")
        let start = Date()
        let coordinator = try cluster.start(
            "coordinator", "straits-coordinator",
            ["--topology", topology, "--job", job, "--run-dir", cluster.runDirectory])
        let status = LocalCluster.wait(coordinator, timeout: 20)
        #expect(status == 2)
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(
            cluster.log("coordinator").contains("bad.yaml:8: links[0].latncy: unknown field (did you mean latency?)"),
            "\(cluster.log("coordinator"))")
        let check = try runStraits(["topology", topology])
        #expect(check.status != 0 && check.output.contains("bad.yaml:8: links[0].latncy"))
    }

    @Test(
        "a worker killed with SIGKILL mid-job: the coordinator records it and exits non-zero within 10 s, no process left"
    )
    func killedWorker() throws {
        let cluster = try LocalCluster(name: "kill")
        try cluster.startTwoRegions(
            job: "name: long\nkind: sync\nsteps: 100000\ngradient: 64KiB\ncompute: 20ms\ntimeout: 60s\n")
        // Wait until steps are running.
        let deadline = Date(timeIntervalSinceNow: 60)
        while Date() < deadline, cluster.recordedSteps() < 16 { usleep(100_000) }
        #expect(cluster.recordedSteps() >= 16, "\(cluster.log("coordinator"))")

        let victim = try #require(cluster.workers["worker-eu-west-1"])
        kill(victim.processIdentifier, SIGKILL)
        let killed = Date()
        let status = LocalCluster.wait(cluster.coordinator!, timeout: 15)
        let elapsed = Date().timeIntervalSince(killed)
        #expect(status == 1, "\(cluster.log("coordinator"))")
        #expect(elapsed < 10, "the coordinator took \(elapsed) s")
        let events = try cluster.lines("events.jsonl")
        let dead = events.first { $0["event"] as? String == "worker_dead" || $0["event"] as? String == "worker_failed" }
        #expect(dead != nil, "\(events)")
        // Found by its closed connection at the next heartbeat, not by 5 s of silence; said once.
        #expect(events.filter { $0["event"] as? String == "worker_dead" }.count <= 1, "\(events)")
        let abort = events.last { $0["event"] as? String == "abort" }
        #expect(
            (abort?["reason"] as? String ?? "").contains("eu-west/host 1")
                && !(abort?["reason"] as? String ?? "")
                    .contains("sent nothing"),
            "\(String(describing: abort))")
        #expect((dead?["reason"] as? String ?? "").isEmpty == false)
        if dead?["event"] as? String == "worker_dead" {
            #expect(dead?["region"] as? String == "eu-west" && dead?["host"] as? Int == 1)
        }
        #expect(events.last?["event"] as? String == "abort")
        #expect(try cluster.summary()["status"] as? String == "failed")
        for (name, worker) in cluster.workers where name != "worker-eu-west-1" {
            #expect(
                LocalCluster.wait(worker, timeout: 10) == 1,
                "\(name) still running or exited oddly: \(cluster.log(name))")
        }
    }

    @Test("workers whose coordinator is gone exit with a clear error within the heartbeat deadline")
    func coordinatorGone() throws {
        let cluster = try LocalCluster(name: "orphans")
        _ = try cluster.startRunning(job: "name: long\nsteps: 100000\ngradient: 4KiB\ncompute: 20ms\n", steps: 4)
        kill(cluster.coordinator!.processIdentifier, SIGKILL)
        let killed = Date()
        for (name, worker) in cluster.workers {
            #expect(LocalCluster.wait(worker, timeout: 15) == 1, "\(name): \(cluster.log(name))")
            #expect(cluster.log(name).contains("has been silent for 5.0 s; giving up"), "\(cluster.log(name))")
        }
        #expect(Date().timeIntervalSince(killed) < 8)
    }

    @Test(
        "a worker of another protocol version is refused with both versions; a missing host ends the join with its name"
    )
    func otherVersion() throws {
        let cluster = try LocalCluster(name: "version")
        let topology = try cluster.write("one.yaml", "name: one\nregions:\n  - { name: r, hosts: 2 }\n")
        let job = try cluster.write("job.yaml", "name: j\nsteps: 1\n")
        let endpoint = try cluster.startCoordinator(topology: topology, job: job, extra: ["--join-timeout-s", "4"])
        try cluster.startWorker(endpoint, region: "r", host: 0, devices: 1, extra: ["--protocol-version", "2"])
        let worker = try #require(cluster.workers["worker-r-0"])
        #expect(LocalCluster.wait(worker, timeout: 15) == 3)
        let said = cluster.log("worker-r-0")
        #expect(
            said.contains("refused by the coordinator") && said.contains("version 2") && said.contains("version 1"),
            "\(said)")
        #expect(LocalCluster.wait(cluster.coordinator!, timeout: 20) == 1)
        #expect(cluster.log("coordinator").contains("missing: r/host 0, r/host 1"), "\(cluster.log("coordinator"))")
        let events = try cluster.lines("events.jsonl")
        #expect(
            events.contains {
                $0["event"] as? String == "refused" && ($0["reason"] as? String ?? "").contains("version 2")
            })
    }

    @Test(
        "random, truncated and oversized frames to the coordinator and a worker are dropped and logged; the job still finishes"
    )
    func hostileFrames() throws {
        let cluster = try LocalCluster(name: "fuzz")
        let endpoint = try cluster.startRunning(
            job: "name: j\nsteps: 60\ngradient: 64KiB\ncompute: 20ms\ntimeout: 30s\n", steps: 4)
        let plan =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: cluster.runDirectory + "/plan.json"))) as? [String: Any]
        let workers = try #require(plan?["workers"] as? [[String: Any]])
        let dataEndpoint = try #require((workers[0]["endpoints"] as? [String])?.first)

        var generator = SystemRandomNumberGenerator()
        func random(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        // Of the job's membership epoch (1), so that they meet every check a member's would.
        func forged(rank: UInt32) -> DataFrameHeader {
            var header = DataFrameHeader(
                sourceRank: rank, step: 0, collectiveID: 1_000_000, tag: 1, offsetBytes: 0, lengthBytes: 8)
            header.epoch = 1
            return header
        }
        let header = forged(rank: 1).encoded
        var corrupt = forged(rank: 1)
        corrupt.flags = DataFrameHeader.Flags.checksummed
        corrupt.crc32c = 12345
        let strangerRank = forged(rank: 99).encoded
        let control: [[[UInt8]]] = [
            [random(1)], [random(37)], [random(8), random(100)],
            [Array(ControlMessage.envelope(.heartbeat).prefix(5)), Array("{}".utf8)],
            [ControlMessage.envelope(.step), Array("{\"step\":".utf8)],
            [ControlMessage.envelope(.heartbeat), Array("{\"seq\":1}".utf8)],
            [ControlMessage.envelope(.join), [UInt8](repeating: 32, count: 2 << 20)],
            [random(8), random(8), random(8)],
        ]
        let data: [[[UInt8]]] = [
            [random(64)], [random(13), random(8)], [Array(header.prefix(40)), random(8)], [header, random(3)],
            [corrupt.encoded, random(8)], [strangerRank, random(8)], [header, random(8), random(8)],
            [random(64), random(1 << 20)],
        ]
        // (Data sockets take parts of up to 16 MiB + 64 KiB: the 1 MiB payload above is read and
        // dropped, the connection kept.)
        var dealer = try ZMQSocket(.dealer, linger: .zero)
        try dealer.connect(endpoint)
        var push = try ZMQSocket(.push, linger: .zero)
        try push.connect(dataEndpoint)
        for _ in 0..<5 {
            for frames in control {
                var message = ZMQMessage()
                for frame in frames { message.append(frame) }
                try dealer.blockingSend(message, timeout: .seconds(5))
            }
            for frames in data {
                var message = ZMQMessage()
                for frame in frames { message.append(frame) }
                try push.blockingSend(message, timeout: .seconds(5))
            }
        }
        // A data part over the data sockets' limit: libzmq drops that connection unread.
        var bigData = try ZMQSocket(.push, linger: .zero)
        try bigData.connect(dataEndpoint)
        var hugeData = ZMQMessage()
        hugeData.append(header)
        hugeData.append([UInt8](repeating: 9, count: DataFrameHeader.maximumPayloadBytes + (64 << 10) + 1))
        try bigData.blockingSend(hugeData, timeout: .seconds(5))
        // A frame over the coordinator's message-size limit: libzmq drops that connection.
        var big = try ZMQSocket(.dealer, linger: .zero)
        try big.connect(endpoint)
        var huge = ZMQMessage()
        huge.append([UInt8](repeating: 7, count: 8 << 20))
        try big.blockingSend(huge, timeout: .seconds(5))

        // Memory stays bounded while the job goes on.
        if let status = try? String(
            contentsOfFile: "/proc/\(cluster.coordinator!.processIdentifier)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        {
            #expect(kilobytes < 200 << 10, "coordinator RSS \(kilobytes) kB after the hostile frames")
        }
        let status = LocalCluster.wait(cluster.coordinator!, timeout: 120)
        #expect(status == 0, "\(cluster.log("coordinator"))")
        let summary = try cluster.summary()
        #expect(summary["status"] as? String == "ok" && summary["steps"] as? Int == 60)
        #expect((summary["dropped_control_messages"] as? Int ?? 0) >= 30, "\(summary)")
        #expect((summary["rejected_data_messages"] as? Int ?? 0) >= 30, "\(summary)")
        let coordinatorLog = cluster.log("coordinator")
        #expect(
            coordinatorLog.contains("dropped a control message")
                && coordinatorLog.contains("control envelope with magic"), "\(coordinatorLog)")
        #expect(coordinatorLog.contains("exceeds the 1048576-byte limit"))
        let workerLog = cluster.log("worker-r-0")
        #expect(workerLog.contains("dropped a data message") && workerLog.contains("fails its CRC32C"), "\(workerLog)")
        #expect(workerLog.contains("not a peer of this rank"))
        let events = try cluster.lines("events.jsonl")
        #expect(events.contains { $0["event"] as? String == "dropped" })
        #expect(try cluster.lines("steps.jsonl").allSatisfy { $0["wrong"] as? Int == 0 })
    }
}
