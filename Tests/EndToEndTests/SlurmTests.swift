import Foundation
import Testing

@Suite("Slurm: the default job on a throw-away Slurm of 3 nodes", .serialized)
struct SlurmTests {
    @Test(
        "sbatch runs the default job across 3 nodes: the run directory is gathered whole, and the job's exit status is Straits'",
        .enabled(if: getuid() == 0, "a throw-away Slurm needs root"))
    func defaultJob() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("straits-slurm-test-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer {
            if ProcessInfo.processInfo.environment["STRAITS_KEEP_TEST_DIRS"] == nil {
                try? FileManager.default.removeItem(at: directory)
            }
        }
        let bin = try straitsBinary().deletingLastPathComponent().path
        let run = directory.appendingPathComponent("run").path
        let failedRun = directory.appendingPathComponent("bad").path
        let before = testHostNamespaces()
        // One Slurm for both jobs: the default job, then one whose job file does not exist.
        let script = """
            Deploy/slurm/run.sh -N 3 -t 10 -o \(directory.path)/slurm-%j.out -- --bin \(bin) --run-dir \(run)
            echo "default job: $?"
            Deploy/slurm/run.sh -N 1 -t 2 -o \(directory.path)/slurm-%j.out -- --bin \(bin) --run-dir \(failedRun) --job /nonexistent.yaml
            echo "bad job: $?"
            """
        let (status, output) = try runScript(
            "Deploy/slurm/throwaway.sh", ["--nodes", "3", "--", "bash", "-c", script], timeout: 400)
        #expect(status == 0, "throwaway.sh: \(output.suffix(4000))")
        #expect(output.contains("default job: 0"), "\(output.suffix(4000))")
        #expect(
            output.contains("bad job: 2"), "a job file that does not exist is exit status 2: \(output.suffix(2000))")
        #expect(testHostNamespaces() == before, "namespaces left behind")

        // The gathered run directory: the coordinator's files, both models, every process's log.
        let summary =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: run + "/summary.json"))) as? [String: Any]
        #expect(summary?["status"] as? String == "ok", "summary: \(String(describing: summary))")
        let files = try FileManager.default.contentsOfDirectory(atPath: run)
        for name in [
            "model-ddp.bin", "model-diloco-h20.bin", "steps.jsonl", "events.jsonl", "plan.json", "links.jsonl",
        ] {
            #expect(files.contains(name), "\(name) missing from the gathered run directory")
        }
        let logs = Set(try FileManager.default.contentsOfDirectory(atPath: run + "/logs"))
        var expected: Set<String> = ["coordinator.log"]
        for region in ["us-east", "eu-west", "ap-northeast"] {
            expected.insert("gateway-\(region).log")
            for host in 0..<2 { expected.insert("worker-\(region)-\(host).log") }
        }
        #expect(logs == expected)
        // Three nodes, each its own address: the workers' endpoints span three addresses.
        let plan = try String(contentsOfFile: run + "/plan.json", encoding: .utf8)
        let addresses = Set(
            plan.matches(of: /tcp:\/\/(10\.[0-9.]+):/).map { String($0.output.1) })
        #expect(addresses.count == 3, "endpoints on \(addresses.sorted())")
    }
}
