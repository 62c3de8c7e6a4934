import Foundation
import Testing

/// Elastic training: a worker lost mid-job, the survivors going on in a new membership epoch,
/// the worker restarted and taken back in with a survivor's state; and a job that falls below
/// its quorum stopping with what is missing.
@Suite("elastic membership: lost workers, retried steps, rejoins, the quorum", .serialized)
struct ElasticTests {
    /// A DDP job long enough to lose and restart a worker in (about 20 ms of emulated compute a
    /// step), that goes on down to `quorum`.
    static func job(steps: Int, quorum: String) -> String {
        """
        name: elastic
        kind: train
        steps: \(steps)
        model: { layers: [8, 256, 128, 4] }
        data: { seed: 5, batch: 8, shard: 64 }
        optimizer: { name: adamw, lr: 0.002 }
        compute: { mode: synthetic, tflops: 1, mfu: 1, scale: 12000 }
        bucket: 32KiB
        timeout: 20s
        quorum: \(quorum)
        schedules:
          - { name: ddp, sync: ddp }

        """
    }

    static func events(_ cluster: LocalCluster, _ name: String) -> [[String: Any]] {
        ((try? cluster.lines("events.jsonl", live: true)) ?? []).filter { $0["event"] as? String == name }
    }

    /// Waits up to `timeout` seconds for an event that `matches`.
    static func await(
        _ cluster: LocalCluster, _ name: String, timeout: Double,
        matching matches: ([String: Any]) -> Bool = { _ in true }
    ) -> [String: Any]? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if let event = events(cluster, name).first(where: matches) { return event }
            if cluster.coordinator?.isRunning == false { break }
            usleep(50_000)
        }
        return events(cluster, name).first(where: matches)
    }

    /// The DDP job on two regions of two hosts of two devices, with a quorum of three hosts in
    /// both regions, running until `steps` steps are recorded.
    static func running(_ name: String, steps: Int) throws -> LocalCluster {
        let cluster = try LocalCluster(name: name)
        try cluster.startTwoRegions(job: job(steps: 600, quorum: "{ hosts: 3, regions: 2 }"))
        let deadline = Date(timeIntervalSinceNow: 60)
        while Date() < deadline, cluster.recordedSteps() < 8 * steps { usleep(50_000) }
        #expect(cluster.recordedSteps() >= 8 * steps, "\(cluster.log("coordinator"))")
        return cluster
    }

    @Test(
        "DDP: a worker SIGKILLed mid-step; the survivors finish that step within 10 s; restarted, it rejoins with a survivor's state and every replica's CRC32C matches at the next step"
    )
    func lostAndRejoined() throws {
        let cluster = try Self.running("elastic", steps: 20)

        let victim = try #require(cluster.workers["worker-eu-west-1"])
        kill(victim.processIdentifier, SIGKILL)
        let killed = Date()
        let recovered = Self.await(cluster, "recovered", timeout: 15)
        let recoveredAfter = Date().timeIntervalSince(killed)
        #expect(recovered != nil, "\(cluster.log("coordinator"))")
        #expect(recoveredAfter < 10, "the survivors finished the step \(recoveredAfter) s after the kill")
        let lost = Self.events(cluster, "worker_lost")
        #expect(lost.count == 1 && lost.first?["region"] as? String == "eu-west" && lost.first?["host"] as? Int == 1)
        #expect(Self.events(cluster, "epoch").first?["ranks"] as? Int == 6, "\(Self.events(cluster, "epoch"))")
        #expect(!Self.events(cluster, "step_retried").isEmpty)

        // Restarted, as a supervisor would: it joins the running job in its free seat.
        let endpoint = try String(contentsOfFile: cluster.runDirectory + "/coordinator.endpoint", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try cluster.startWorker(endpoint, region: "eu-west", host: 1, devices: 2)
        let identical = Self.await(cluster, "replicas_identical", timeout: 30) { ($0["epoch"] as? Int ?? 0) >= 3 }
        #expect(identical?["ranks"] as? Int == 8, "\(cluster.log("coordinator"))")
        #expect((identical?["crc32c"] as? [String])?.count == 1)
        #expect(!Self.events(cluster, "worker_rejoined").isEmpty)
        let transfer = Self.events(cluster, "state_transfer").first
        let moved = (transfer?["transfers"] as? [[String: Any]])?.first
        #expect(
            moved?["from_rank"] as? Int == 0 && moved?["to_ranks"] as? [Int] == [6, 7],
            "\(String(describing: transfer))")

        #expect(LocalCluster.wait(cluster.coordinator!, timeout: 120) == 0, "\(cluster.log("coordinator"))")
        #expect(try cluster.summary()["status"] as? String == "ok")
        for (name, worker) in cluster.workers {
            #expect(LocalCluster.wait(worker, timeout: 10) == 0, "\(name): \(cluster.log(name))")
        }
    }

    @Test(
        "below the quorum (the last worker of a region killed by straits fault) the job stops within the heartbeat deadline with a reason naming what is missing; no process is left"
    )
    func belowQuorum() throws {
        let cluster = try Self.running("quorum", steps: 10)
        kill(try #require(cluster.workers["worker-eu-west-1"]).processIdentifier, SIGKILL)
        #expect(Self.await(cluster, "recovered", timeout: 15) != nil, "\(cluster.log("coordinator"))")
        // The last worker of eu-west, killed by an operator's fault: two regions are needed.
        let endpoint = try String(contentsOfFile: cluster.runDirectory + "/coordinator.endpoint", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let killed = Date()
        let fault = try runStraits(
            ["fault", "--coordinator", endpoint, "{ kill: worker, region: eu-west, host: 0 }"], timeout: 20)
        #expect(fault.status == 0 && fault.output.contains("kill 0 (worker eu-west/0) scheduled in 0 s"), "\(fault)")
        let status = LocalCluster.wait(cluster.coordinator!, timeout: 15)
        let elapsed = Date().timeIntervalSince(killed)
        #expect(status == 1, "\(cluster.log("coordinator"))")
        #expect(elapsed < 5, "the coordinator stopped \(elapsed) s after the kill (heartbeat deadline 5 s)")
        let reason = Self.events(cluster, "abort").last?["reason"] as? String ?? ""
        #expect(
            reason.contains("below the quorum") && reason.contains("no worker left in eu-west")
                && reason.contains("missing eu-west/host 0, eu-west/host 1"), "\(reason)")
        #expect(try cluster.summary()["status"] as? String == "failed")
        for (name, process) in cluster.workers where !name.hasPrefix("worker-eu-west") {
            #expect(
                LocalCluster.wait(process, timeout: 10) == 1,
                "\(name) still running or exited oddly: \(cluster.log(name))")
        }
    }

    @Test(
        "the coordinator SIGKILLed mid-job: its successor (--resume) takes the job over from the state it wrote, the members wait for it and join again, the job finishes, and every JSONL line in the run directory is whole"
    )
    func coordinatorResumed() throws {
        let cluster = try Self.running("resume", steps: 20)
        let first = try #require(cluster.coordinator)
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let state = try Data(contentsOf: URL(fileURLWithPath: cluster.runDirectory + "/coordinator-state.json"))
        let saved = try #require(try JSONSerialization.jsonObject(with: state) as? [String: Any])
        #expect((saved["next_step"] as? Int ?? 0) >= 20, "\(saved)")

        let successor = try cluster.start(
            "successor", "straits-coordinator", ["--resume", cluster.runDirectory, "--join-timeout-s", "30"])
        #expect(LocalCluster.wait(successor, timeout: 120) == 0, "\(cluster.log("successor"))")
        let summary = try cluster.summary()
        #expect(summary["status"] as? String == "ok" && summary["steps"] as? Int == 600, "\(summary)")
        #expect(summary["resumed_at_step"] == nil || summary["status"] as? String == "ok")
        #expect(!Self.events(cluster, "successor_start").isEmpty && !Self.events(cluster, "resumed").isEmpty)
        #expect(FileManager.default.fileExists(atPath: cluster.runDirectory + "/model-ddp.bin"))
        // Every line of every JSONL file is whole (`lines` checks each ends and parses).
        var files = ["events.jsonl", "steps.jsonl", "links.jsonl"]
        files += try FileManager.default.contentsOfDirectory(atPath: cluster.runDirectory + "/regions").map {
            "regions/" + $0
        }
        for file in files { #expect(try !cluster.lines(file).isEmpty, "\(file)") }
        for (name, worker) in cluster.workers {
            #expect(LocalCluster.wait(worker, timeout: 10) == 0, "\(name): \(cluster.log(name))")
            #expect(cluster.log(name).contains("waiting up to"), "\(name): \(cluster.log(name))")
        }
    }

    @Test(
        "DiLoCo: a whole region killed (its workers and its gateway) and restarted: the other region goes on alone, the restarted workers start again from the global parameters another region sends, and every replica agrees at the end"
    )
    func regionLostAndBack() throws {
        let cluster = try LocalCluster(name: "region")
        let job =
            Self.job(steps: 400, quorum: "{ hosts: 2, regions: 1 }")
            .replacingOccurrences(
                of: "  - { name: ddp, sync: ddp }",
                with: "  - { name: diloco, sync: diloco, every: 40, outer_lr: 0.7, outer_momentum: 0.9 }")
            + "faults:\n  - { kill: region, region: eu-west, step: 45 }\n"
        try cluster.startTwoRegions(job: job)
        let lost = Self.await(cluster, "gateway_lost", timeout: 60)
        #expect(lost != nil, "\(cluster.log("coordinator"))")
        // Out for a few steps of the outer interval (40…79) before it comes back.
        let deadline = Date(timeIntervalSinceNow: 30)
        while Date() < deadline, cluster.recordedSteps() < 8 * 45 + 4 * 5 { usleep(20_000) }
        let kill = Self.events(cluster, "kill_fault").first
        #expect((kill?["members"] as? [String])?.count == 3, "\(String(describing: kill))")
        // Restarted, as a supervisor would.
        let endpoint = try String(contentsOfFile: cluster.runDirectory + "/coordinator.endpoint", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try cluster.startGateways(
            endpoint, topology: cluster.directory.appendingPathComponent("two.yaml").path, regions: ["eu-west"])
        for host in 0..<2 { try cluster.startWorker(endpoint, region: "eu-west", host: host, devices: 2) }
        #expect(LocalCluster.wait(cluster.coordinator!, timeout: 120) == 0, "\(cluster.log("coordinator"))")
        #expect(Self.events(cluster, "worker_lost").count == 2 && Self.events(cluster, "worker_rejoined").count == 2)
        let transfers = Self.events(cluster, "state_transfer").flatMap { $0["transfers"] as? [[String: Any]] ?? [] }
        // The first to come back has none of its region to take state from: another region's,
        // with the global parameters; one that comes later takes its region's.
        // Both may come back in one epoch: one global transfer to all four ranks. Otherwise the
        // later takes its region's state; ranks follow the hosts' order, so where host 1 comes
        // back first it holds ranks 4 and 5 until host 0 joins, and the later transfer then goes
        // to host 0's ranks 4 and 5 from host 1's rank 6 (both seen on a loaded machine).
        #expect(transfers.first?["global"] as? Bool == true, "\(transfers)")
        for transfer in transfers {
            let ranks = transfer["to_ranks"] as? [Int] ?? []
            #expect(!ranks.isEmpty && Set(ranks).isSubset(of: [4, 5, 6, 7]), "\(transfers)")
        }
        if Set(transfers.first?["to_ranks"] as? [Int] ?? []) != [4, 5, 6, 7] {
            let regional = transfers.dropFirst().first { $0["global"] as? Bool == false }
            #expect((4...7).contains(regional?["from_rank"] as? Int ?? -1), "\(transfers)")
        }
        // At the next outer step (79, or a later one on a slow machine) the restarted region's
        // pseudo-gradients weigh the share of the interval they cover.
        // (None where it came back exactly as an interval began: then it covers the whole.)
        let back = Self.events(cluster, "state_transfer").first?["step"] as? Int ?? -1
        if let weighted = Self.events(cluster, "outer_weights").first {
            let weights = weighted["weights"] as? [Double] ?? []
            #expect(((weighted["step"] as? Int ?? 0) + 1) % 40 == 0, "\(weighted)")
            #expect(
                weights.count == 8 && weights.prefix(4).allSatisfy { $0 == 1 }
                    && weights.suffix(4).allSatisfy { $0 > 0 && $0 < 1 }, "\(weights)")
        } else {
            #expect(back % 40 == 0, "back at step \(back), and no outer weights")
        }
        let final = Self.events(cluster, "replicas_identical").last
        #expect(final?["file"] != nil, "\(String(describing: final))")
        #expect(try cluster.summary()["status"] as? String == "ok")
    }
}
