import Foundation
import StraitsWire
import Testing

/// The repository's root (scripts live under it).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Runs a repository script to its end (killed with SIGTERM, then SIGKILL, past `timeout`
/// seconds); its exit status and output.
func runScript(_ path: String, _ arguments: [String], timeout: Double) throws -> (status: Int32?, output: String) {
    let process = Process()
    process.executableURL = repositoryRoot.appendingPathComponent(path)
    process.arguments = arguments
    process.currentDirectoryURL = repositoryRoot
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("straits-script-\(getpid())-\(UUID()).log")
    FileManager.default.createFile(atPath: log.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: log) }
    let handle = try FileHandle(forWritingTo: log)
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    var status = LocalCluster.wait(process, timeout: timeout)
    if status == nil {
        kill(process.processIdentifier, SIGTERM)
        status = LocalCluster.wait(process, timeout: 10)
        if status == nil { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        status = nil
    }
    try handle.close()
    return (status, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
}

/// Network namespaces on this machine whose names Deploy/netns/hosts.sh gives.
func testHostNamespaces() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
    return names.filter { $0.hasPrefix("st") && $0.contains("h") }.sorted()
}

@Suite("test hosts: every process in its own network namespace", .serialized)
struct TestHostsTests {
    static let job = """
        name: hosts
        kind: train
        steps: 8
        model: { layers: [8, 96, 48, 4] }
        data: { seed: 11, batch: 8, shard: 64 }
        optimizer: { name: adamw, lr: 0.01 }
        bucket: 8KiB
        timeout: 30s
        schedules:
          - { name: ddp, sync: ddp }
          - { name: diloco, sync: diloco, every: 4 }
        """

    /// Runs the job with Deploy/local-cluster.sh on this build's executables; the run directory.
    static func run(_ name: String, netns: Bool, cluster: LocalCluster, extra: [String] = []) throws -> String {
        let topology = try cluster.write("two.yaml", twoRegions)
        let job = try cluster.write("job.yaml", Self.job)
        let runDirectory = cluster.directory.appendingPathComponent(name).path
        let bin = try straitsBinary().deletingLastPathComponent().path
        let (status, output) = try runScript(
            "Deploy/local-cluster.sh",
            ["--topology", topology, "--job", job, "--run-dir", runDirectory, "--bin", bin]
                + (netns ? ["--netns"] : []) + extra,
            timeout: 240)
        #expect(status == 0, "local-cluster.sh\(netns ? " --netns" : ""): \(output.suffix(3000))")
        return runDirectory
    }

    static func checksum(_ path: String) throws -> UInt32 {
        CRC32C.checksum(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    @Test(
        "training across namespace hosts over TCP, their clocks skewed by seconds, ends with the parameters it ends with on loopback; nothing is left behind",
        .enabled(if: getuid() == 0, "network namespaces need root"))
    func sameParameters() throws {
        let before = testHostNamespaces()
        let cluster = try LocalCluster(name: "netns")
        // Each gateway and worker reads its clock seconds off (as another host's would) and
        // measures its offset to the coordinator's: arrival times cross hosts in cluster time.
        let hosts = try Self.run("hosts", netns: true, cluster: cluster, extra: ["--clock-skew", "1.5"])
        let loopback = try Self.run("loopback", netns: false, cluster: cluster)
        #expect(testHostNamespaces() == before, "namespaces left behind")

        // Each process had its own address: the coordinator's endpoint and the workers' data
        // endpoints are on the test hosts' subnet, not loopback.
        let endpoint = try String(contentsOfFile: hosts + "/coordinator.endpoint", encoding: .utf8)
        #expect(endpoint.hasPrefix("tcp://10.") && endpoint.contains(":5555"), "coordinator at \(endpoint)")
        let plan = try String(contentsOfFile: hosts + "/plan.json", encoding: .utf8)
        #expect(!plan.contains("127.0.0.1"), "plan.json names loopback endpoints")

        for schedule in ["ddp", "diloco"] {
            let there = try Self.checksum(hosts + "/model-\(schedule).bin")
            let here = try Self.checksum(loopback + "/model-\(schedule).bin")
            #expect(
                there == here,
                "\(schedule): CRC32C \(String(there, radix: 16)) across hosts, \(String(here, radix: 16)) on loopback")
        }
        // Every gateway and worker measured its clock, within a millisecond of the skew it was given
        // (the k-th process, gateways first, reads 1.5·k·(−1)^k s off).
        let names =
            ["gateway-us-east", "gateway-eu-west"]
            + ["us-east", "eu-west"].flatMap { region in
                (0..<2).map { "worker-\(region)-\($0)" }
            }
        for (k, name) in names.enumerated().map({ ($0.offset + 1, $0.element) }) {
            let log = try String(contentsOfFile: hosts + "/logs/\(name).log", encoding: .utf8)
            let match = log.firstMatch(of: /clock: (-?[0-9.]+) µs behind/)
            let measured = try #require(match.flatMap { Double($0.output.1) }, "\(name) measured no clock offset")
            let truth = -1.5e6 * Double(k) * (k % 2 == 1 ? -1 : 1)
            #expect(abs(measured - truth) < 1000, "\(name): measured \(measured) µs, true \(truth) µs")
        }
        // The file the coordinator wrote is the one every replica's checksum matched.
        let events = try String(contentsOfFile: hosts + "/events.jsonl", encoding: .utf8)
        #expect(events.contains("\"crc32c\":\"\(String(try Self.checksum(hosts + "/model-ddp.bin"), radix: 16))\""))
    }
}
