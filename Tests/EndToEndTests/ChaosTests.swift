import Foundation
import Testing

/// DiLoCo across three regions through ten faults (Deploy/jobs/chaos.yaml): workers and a
/// gateway killed and restarted by Deploy/local-cluster.sh --restart, links dark, slow, late and
/// flapping; against the same job without faults.
@Suite("chaos: training through kills, restarts and link faults", .serialized)
struct ChaosTests {
    static func lines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    static func object(_ path: String) throws -> [String: Any] {
        try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    static func finalLoss(_ run: String) throws -> Double {
        let training = try #require(try object(run + "/summary.json")["training"] as? [String: Any])
        let schedule = try #require((training["schedules"] as? [[String: Any]])?.first)
        return try #require(schedule["final_loss"] as? Double)
    }

    /// Runs `job` (a path) on the default topology with this build's executables.
    static func run(_ job: String, in directory: URL, _ name: String, restart: Bool) throws -> String {
        let runDirectory = directory.appendingPathComponent(name).path
        let bin = try straitsBinary().deletingLastPathComponent().path
        let (status, output) = try runScript(
            "Deploy/local-cluster.sh",
            ["--job", job, "--run-dir", runDirectory, "--bin", bin] + (restart ? ["--restart"] : []), timeout: 300)
        #expect(status == 0, "local-cluster.sh \(name): \(output.suffix(4000))")
        return runDirectory
    }

    @Test(
        "ten faults (two worker kills and a gateway kill, each restarted; links down 2-4 s, slowed, late, flapping): the job finishes ok, its final loss within 5% of the same job without faults, every fault and recovery in events.jsonl and summary.json, and trace.json in the trace-event format"
    )
    func chaos() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("straits-chaos-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer {
            if ProcessInfo.processInfo.environment["STRAITS_KEEP_TEST_DIRS"] == nil {
                try? FileManager.default.removeItem(at: directory)
            }
        }
        let chaosJob = repositoryRoot.appendingPathComponent("Deploy/jobs/chaos.yaml").path
        let text = try String(contentsOfFile: chaosJob, encoding: .utf8)
        let calmJob = directory.appendingPathComponent("calm.yaml").path
        try String(text[..<text.range(of: "\nfaults:")!.upperBound].dropLast("faults:".count))
            .write(toFile: calmJob, atomically: true, encoding: .utf8)

        let chaos = try Self.run(chaosJob, in: directory, "chaos", restart: true)
        let calm = try Self.run(calmJob, in: directory, "calm", restart: false)
        #expect(try Self.object(chaos + "/summary.json")["status"] as? String == "ok")
        let (faulty, clean) = (try Self.finalLoss(chaos), try Self.finalLoss(calm))
        #expect(abs(faulty - clean) <= 0.05 * clean, "final loss \(faulty) with faults, \(clean) without")

        // Every fault, loss, rejoin and recovery, with its reason, in events.jsonl.
        let events = try Self.lines(chaos + "/events.jsonl")
        func named(_ name: String) -> [[String: Any]] { events.filter { $0["event"] as? String == name } }
        let linkFaults = Set(named("link_fault").compactMap { $0["fault"] as? Int })
        #expect(linkFaults == Set(0..<7), "link faults begun or ended: \(linkFaults.sorted())")
        for fault in 0..<7 {
            let states = named("link_fault").filter { $0["fault"] as? Int == fault }.compactMap {
                $0["state"] as? String
            }
            #expect(
                ["up", "restored"].contains(states.last ?? ""), "link fault \(fault) did not end: \(states)")
        }
        #expect(named("kill_fault").compactMap { $0["fault"] as? Int } == [0, 1, 2])
        #expect(named("worker_lost").count == 2 && named("gateway_lost").count == 1, "\(events.suffix(40))")
        #expect(named("worker_rejoined").count == 2 && named("gateway_rejoined").count == 1)
        #expect(named("recovered").count == 3)
        #expect(named("state_transfer").count == 2)
        let epochs = named("epoch").compactMap { $0["epoch"] as? Int }
        #expect(epochs.count >= 4 && epochs == epochs.sorted())
        // The replicas agree (inside each region, or across all) in every epoch after the first.
        let checked = Set(named("replicas_identical").compactMap { $0["epoch"] as? Int })
        #expect(Set(epochs).isSubset(of: checked), "epochs \(epochs), checked \(checked.sorted())")

        // summary.json: each fault's course, the kills' detection and recovery, and goodput.
        let summary = try Self.object(chaos + "/summary.json")
        let courses = try #require(summary["faults"] as? [[String: Any]])
        #expect(courses.count == 10, "\(courses)")
        for course in courses where course["kind"] as? String == "kill" {
            #expect((course["detected_after_s"] as? Double ?? 99) < 5, "\(course)")
            #expect((course["recovered_after_s"] as? Double ?? 99) < 10, "\(course)")
        }
        let goodput = try #require(summary["goodput"] as? [String: Any])
        let ratio = goodput["ratio"] as? Double ?? 0
        #expect(ratio > 0.2 && ratio < 1.2, "\(goodput)")
        #expect((goodput["steps_retried"] as? Int ?? 0) >= 2)

        try Self.checkTrace(chaos + "/trace.json", ranks: 12)
    }

    /// trace.json against the trace-event format (as Perfetto and chrome://tracing read it):
    /// every event has `ph`, `ts`, `pid`, `tid` and `name`; spans (`X`) have a duration of zero
    /// or more, so each is closed; one named track per rank; the faults are there.
    static func checkTrace(_ path: String, ranks: Int) throws {
        let trace = try object(path)
        let events = try #require(trace["traceEvents"] as? [[String: Any]])
        #expect(!events.isEmpty)
        for event in events {
            let phase = event["ph"] as? String
            #expect(["X", "M", "i"].contains(phase ?? ""), "\(event)")
            #expect(event["ts"] is Double || event["ts"] is Int, "\(event)")
            #expect(event["pid"] is Int && event["tid"] is Int && event["name"] is String, "\(event)")
            if phase == "X" {
                let duration = (event["dur"] as? Double) ?? (event["dur"] as? Int).map(Double.init)
                #expect((duration ?? -1) >= 0, "an unclosed span: \(event)")
            }
        }
        // One track per rank: each (process, thread) named once, and every rank has a track.
        let tracks = events.filter { $0["ph"] as? String == "M" && $0["name"] as? String == "thread_name" }
        let keys = tracks.map { "\($0["pid"]!)/\($0["tid"]!)" }
        #expect(Set(keys).count == keys.count, "a track named twice")
        let names = Set(tracks.compactMap { ($0["args"] as? [String: Any])?["name"] as? String })
        for rank in 0..<ranks { #expect(names.contains("rank \(rank)"), "no track for rank \(rank)") }
        // Every rank's compute is there; the faults are spans on the links' tracks and
        // instants on the membership track.
        #expect(events.contains { $0["name"] as? String == "compute" && $0["ph"] as? String == "X" })
        #expect(events.filter { $0["cat"] as? String == "fault" }.count >= 7)
        let instants = events.filter { $0["ph"] as? String == "i" }.compactMap { $0["name"] as? String }
        #expect(instants.filter { $0.hasPrefix("kill ") }.count == 3, "\(instants)")
        #expect(instants.contains { $0.hasPrefix("recovered") })
    }
}
