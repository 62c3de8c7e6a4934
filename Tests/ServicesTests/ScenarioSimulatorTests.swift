import Collectives
import Config
import Emulation
import Foundation
import Telemetry
import Testing

@testable import Services

/// `straits simulate` against closed forms: rings unpipelined and pipelined between regions, the
/// hierarchical all-reduce, DDP's buckets behind the backward pass, DiLoCo blocking and
/// overlapped, streaming fragments; and the scenario file's errors.
@Suite("simulate: scenarios against closed forms")
struct ScenarioSimulatorTests {
    /// `regions` regions of `replicas` replicas each, every pair joined by `bandwidth` and
    /// `latency` (payload only, a window that never binds).
    static func scenario(
        parameters: String = "100M", layers: Int = 1, regions: Int = 2, replicas: Int = 1, bandwidth: String = "10Gbps",
        latency: String = "20ms", schedule: String = "{ sync: ddp, overlap_backward: false }", steps: Int = 10,
        step: String = "{ time: 1s }"
    ) throws -> Scenario {
        let names = (0..<regions).map { "r\($0)" }
        var links: [String] = []
        for a in 0..<regions {
            for b in (a + 1)..<regions {
                links.append(
                    "  - { between: [r\(a), r\(b)], bandwidth: \(bandwidth), latency: \(latency), framing: none, window: 64GiB }"
                )
            }
        }
        let text = """
            name: test
            model: { parameters: \(parameters), layers: \(layers) }
            step: \(step)
            regions:
            \(names.map { "  - { name: \($0), replicas: \(replicas) }" }.joined(separator: "\n"))
            links:
            \(links.joined(separator: "\n"))
            fabric: { bandwidth: 100Gbps, latency: 10us }
            schedule: \(schedule)
            steps: \(steps)
            """
        return try Scenario.parse(text, file: "s.yaml")
    }

    static let header = 64.0

    @Test("a ring between regions with one chunk per step costs 2(P−1)(L + S): every step waits for the latency")
    func unpipelinedRing() throws {
        for regions in [2, 3, 5] {
            let scenario = try Self.scenario(regions: regions)
            let bytes = 100e6 * 4
            let segment = bytes / Double(regions)
            let simulator = ScenarioSimulator(
                scenario: scenario, wanChunkBytes: Int(segment.rounded(.up)) + 4, wanAlgorithm: .ring)
            let result = simulator.run()
            let s = (segment + Self.header) * 8 / 10e9
            let expected = 2 * Double(regions - 1) * (0.020 + s)
            #expect(
                abs(result.syncSeconds - expected) < 1e-6, "P = \(regions): \(result.syncSeconds) against \(expected)")
            // Every region sends 2(P−1) segments; a replica's share is its region's.
            #expect(abs(result.wanBytesPerReplicaPerSync - 2 * Double(regions - 1) * (segment + Self.header)) < 8)
        }
    }

    @Test("a ring between two regions whose chunks pipeline costs 2S + L, to within a chunk")
    func pipelinedRing() throws {
        let scenario = try Self.scenario(latency: "1ms")
        let bytes = 100e6 * 4
        let chunk = 1 << 20
        let result = ScenarioSimulator(scenario: scenario, wanChunkBytes: chunk, wanAlgorithm: .ring).run()
        let s = bytes / 2 * 8 / 10e9
        let c = Double(chunk) * 8 / 10e9
        #expect(result.syncSeconds >= 2 * s + 0.001 - 1e-9)
        #expect(result.syncSeconds <= 2 * s + 0.001 + 2 * c, "\(result.syncSeconds) against \(2 * s + 0.001)")
    }

    @Test(
        "the hierarchical all-reduce: a ring reduce-scatter in each region, the all-reduce between regions, a ring all-gather"
    )
    func hierarchical() throws {
        let replicas = 8
        let scenario = try Self.scenario(replicas: replicas)
        let bytes = 100e6 * 4
        let simulator = ScenarioSimulator(scenario: scenario, wanChunkBytes: Int(bytes / 2) + 4, wanAlgorithm: .ring)
        let result = simulator.run()
        let n = Double(replicas)
        let fabricHalf = (n - 1) * (10e-6 + bytes / n * 8 / 100e9)
        let wan = 2 * (0.020 + (bytes / 2 + Self.header) * 8 / 10e9)
        #expect(abs(result.syncSeconds - (2 * fabricHalf + wan)) < 1e-6)
        #expect(abs(result.fabric.seconds - 10 * 2 * fabricHalf) < 1e-5)
        // Every replica of both regions sends (n−1)/n of the gradient in each half.
        #expect(abs(result.fabric.bytes - 10 * 2 * 2 * (n - 1) * bytes) < 1)
        #expect(abs(result.stepSeconds - (1 + 2 * fabricHalf + wan)) < 1e-6)
        #expect(abs(result.computeUtilisation - 1 / (1 + 2 * fabricHalf + wan)) < 1e-9)
    }

    @Test(
        "DDP's buckets: bucket i is ready after the forward pass and i buckets of the backward, and they are reduced in turn"
    )
    func bucketsBehindBackward() throws {
        // Compute 3 s: forward 1 s, backward 2 s; three buckets ready at 1⅔, 2⅓ and 3 s.
        #expect(
            abs(ScenarioSimulator.exposedBehindBackward(compute: 3, buckets: 3, bucketSeconds: 1) - 5.0 / 3) < 1e-12)
        // Short buckets hide but the last.
        #expect(abs(ScenarioSimulator.exposedBehindBackward(compute: 3, buckets: 3, bucketSeconds: 0.1) - 0.1) < 1e-12)
        let scenario = try Self.scenario(layers: 4, schedule: "{ sync: ddp }")
        let result = ScenarioSimulator(scenario: scenario).run()
        let bucket = result.syncSeconds / 4
        #expect(
            abs(
                result.exposedCommSecondsPerStep
                    - ScenarioSimulator.exposedBehindBackward(compute: 1, buckets: 4, bucketSeconds: bucket)) < 1e-9)
    }

    @Test(
        "DiLoCo blocking adds each synchronisation whole; overlapped with τ inner steps, only what τ steps do not cover"
    )
    func diloco() throws {
        let blocking = ScenarioSimulator(
            scenario: try Self.scenario(
                replicas: 4, schedule: "{ sync: diloco, every: 5, overlap_backward: false }", steps: 100)
        ).run()
        let bytes = 100e6 * 4
        let inner = 1 + 2 * 3 * (10e-6 + bytes / 4 * 8 / 100e9)
        let sync = blocking.syncSeconds
        #expect(blocking.syncs == 20)
        #expect(abs(blocking.seconds - (100 * inner + 20 * sync)) < 1e-6)
        // The synchronisation: the all-reduce between regions, then an all-gather in each region.
        let gather = 3 * (10e-6 + bytes / 4 * 8 / 100e9)
        #expect(sync > gather)

        for overlap in [1, 2] {
            let overlapped = ScenarioSimulator(
                scenario: try Self.scenario(
                    replicas: 4, bandwidth: "1Gbps",
                    schedule: "{ sync: diloco, every: 5, overlap: \(overlap), overlap_backward: false }", steps: 100)
            ).run()
            let exposed = max(0, overlapped.syncSeconds - Double(overlap) * inner)
            #expect(abs(overlapped.seconds - (100 * inner + 20 * exposed)) < 1e-6, "τ = \(overlap)")
        }
    }

    @Test("streaming DiLoCo: F fragments of P/F, one every H/F steps, each hidden behind up to min(τ, H/F) inner steps")
    func streaming() throws {
        let whole = ScenarioSimulator(
            scenario: try Self.scenario(schedule: "{ sync: diloco, every: 40, overlap_backward: false }", steps: 400)
        ).run()
        for (fragments, overlap) in [(4, 0), (4, 5), (4, 20), (8, 5)] {
            let result = ScenarioSimulator(
                scenario: try Self.scenario(
                    schedule:
                        "{ sync: streaming-diloco, every: 40, fragments: \(fragments), overlap: \(overlap), overlap_backward: false }",
                    steps: 400)
            ).run()
            #expect(result.syncs == 400 * fragments / 40)
            // A fragment carries 1/F of the parameters: the same bytes in all, F times the syncs.
            #expect(abs(result.wanBytesTotal - whole.wanBytesTotal) / whole.wanBytesTotal < 1e-3)
            let window = min(Double(overlap), 40 / Double(fragments)) * 1.0
            let exposed = max(0, result.syncSeconds - window)
            #expect(abs(result.seconds - (400 + Double(result.syncs) * exposed)) < 1e-6, "F \(fragments) τ \(overlap)")
        }
    }

    @Test("DiLoCo every 500 steps sends 500 times fewer WAN bytes than DDP")
    func dilocoBytes() throws {
        let ddp = ScenarioSimulator(scenario: try Self.scenario(steps: 5000)).run()
        let diloco = ScenarioSimulator(
            scenario: try Self.scenario(schedule: "{ sync: diloco, every: 500 }", steps: 5000)
        ).run()
        #expect(abs(ddp.wanBytesTotal / diloco.wanBytesTotal - 500) < 0.01)
    }

    static func deployed(_ name: String) throws -> Scenario {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Deploy/scenarios")
        return try Scenario.load(path: directory.appendingPathComponent(name).path)
    }

    @Test(
        "the published checks in Deploy/scenarios: DiLoCo every 500 steps sends 500× fewer bytes than DDP; MaxText's 8B bf16 DiLoCo needs ≈14 Gbit/s (both ways) to hide streaming, ≈512 Gbit/s without a bubble"
    )
    func publishedChecks() throws {
        let diloco = try Self.deployed("diloco-h500.yaml")
        let axis = try Simulate.Axis(parsing: "schedule=ddp,diloco")
        let points = try Simulate.grid(diloco, [axis]).map { ScenarioSimulator(scenario: $0.scenario).run() }
        #expect(abs(points[0].wanBytesTotal / points[1].wanBytesTotal - 500) < 0.5)

        for (name, published) in [("maxtext-streaming.yaml", 14e9), ("maxtext-vanilla.yaml", 512e9)] {
            let solution = try Simulate.solveBandwidth(try Self.deployed(name), target: 0.9999)
            // Both directions of the link at once, as a replica's sends and receives together.
            let bothWays = 2 * solution.bitsPerSecond
            #expect(abs(bothWays / published - 1) < 0.05, "\(name): \(bothWays / 1e9) Gbit/s")
            #expect(abs(solution.result.wanGbpsPeak * 1e9 / bothWays - 1) < 0.01)
        }
    }

    @Test("one TCP stream carries at most a window per round trip; streams add up; the link's bandwidth caps them")
    func windows() throws {
        let scenario = try Scenario.parse(
            """
            name: w
            model: { parameters: 1B }
            step: { time: 1s }
            regions: [{ name: a, replicas: 1 }, { name: b, replicas: 1 }]
            links:
              - { between: [a, b], bandwidth: 10Gbps, latency: 50ms, window: 16MiB }
            """, file: "w.yaml")
        var link = scenario.links[0]
        #expect(abs(ScenarioSimulator.reachableBitsPerSecond(link) - Double(16 << 20) * 8 / 0.1) < 1)
        link.streams = 4
        #expect(abs(ScenarioSimulator.reachableBitsPerSecond(link) - 4 * Double(16 << 20) * 8 / 0.1) < 1)
        link.streams = 100
        #expect(ScenarioSimulator.reachableBitsPerSecond(link) == 10e9)
    }

    @Test("the least bandwidth for a utilisation reaches it, and 0.2% less does not; a window-bound link cannot")
    func solve() throws {
        let scenario = try Self.scenario(parameters: "1B", layers: 8, schedule: "{ sync: ddp }")
        let solution = try Simulate.solveBandwidth(scenario, target: 0.9)
        #expect(solution.result.computeUtilisation >= 0.9)
        let below = ScenarioSimulator(scenario: Simulate.scaled(scenario, bandwidth: solution.factor / 1.002)).run()
        #expect(below.computeUtilisation < 0.9)
        #expect(abs(solution.bitsPerSecond - 10e9 * solution.factor) < 1)

        var bound = scenario
        bound.links = bound.links.map {
            var link = $0
            link.windowBytes = 1 << 20
            return link
        }
        #expect(throws: Simulate.SolveError.self) { try Simulate.solveBandwidth(bound, target: 0.9) }

        // A run shorter than one synchronisation never crosses the WAN: the slowest link a
        // scenario may have reaches any utilisation.
        let never = try Self.scenario(schedule: "{ sync: diloco, every: 100 }", steps: 10)
        #expect(try Simulate.solveBandwidth(never, target: 0.99).bitsPerSecond == Scenario.minimumBitsPerSecond)
    }

    @Test("a sweep writes one line per point of the grid, the first axis slowest, and a bad axis is refused")
    func sweep() throws {
        let directory = NSTemporaryDirectory() + "straits-simulate-sweep-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let axes = try ["bandwidth=1Gbps,10Gbps", "schedule=ddp,diloco"].map { try Simulate.Axis(parsing: $0) }
        let lines = try Simulate.sweep(try Self.scenario(), axes: axes, to: directory)
        #expect(lines.count == 4)
        let csv = try String(contentsOfFile: directory + "/simulate.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 5 && csv[0].hasPrefix("bandwidth_bps,latency_s,name,sync"))
        #expect(csv[1].contains(",\"ddp\",") && csv[2].contains(",\"diloco\",") && csv[3].hasPrefix("10000000000"))

        // Solving over the grid: a line per point and target, and a chart per scenario.
        let solved = try Simulate.solveSweep(
            try Self.scenario(layers: 8, schedule: "{ sync: ddp }"), axes: [axes[1]], targets: [0.5, 0.9],
            to: directory)
        #expect(solved.count == 4)
        let report = try SimulateReport(path: directory)
        #expect(report.solved && report.rows.count == 4)
        let table = report.table()
        #expect(table.contains("50%") && table.contains("90%") && table.contains("diloco"), "\(table)")
        try report.write()
        #expect(FileManager.default.fileExists(atPath: directory + "/wan-needed-test.svg"))
        #expect(throws: SimulateError.self) { try Simulate.Axis(parsing: "colour=red") }
        #expect(throws: SimulateError.self) { try Simulate.Axis(parsing: "bandwidth=fast") }
    }

    @Test("compute from tokens: 6 × parameters FLOPs per token on the replica's devices at their MFU")
    func tokens() throws {
        let scenario = try Self.scenario(
            parameters: "10B", step: "{ tokens: 1M, device: h100, devices: 8, mfu: 0.5 }")
        #expect(abs(scenario.computeSeconds - 6 * 10e9 * 1e6 / (989e12 * 8 * 0.5)) < 1e-9)
        #expect(scenario.accelerators == 16)
    }

    @Test("bad scenarios name file, line and field")
    func errors() throws {
        func error(_ text: String) -> String {
            do {
                _ = try Scenario.parse(text, file: "s.yaml")
                return "no error"
            } catch {
                return error.description
            }
        }
        let base = "name: s\nmodel: { parameters: 1B }\nstep: { time: 1s }\nregions: [{ name: a, replicas: 1 }]\n"
        #expect(
            error("name: s\nmodel: { parameters: 1X }\n")
                == "s.yaml:2: model.parameters: expected a count like 10B or 1.5M (K, M, B, T), got \"1X\"")
        #expect(
            error(base + "schedule: { sync: local-sgd }\n")
                == "s.yaml:5: schedule.sync: expected one of ddp, hier, diloco, streaming-diloco, got \"local-sgd\"")
        #expect(
            error(base + "schedule: { sync: ddp, fragments: 4 }\n")
                == "s.yaml:5: schedule.fragments: only streaming-diloco synchronises fragments; ddp synchronises them all at once"
        )
        #expect(
            error(base + "tokens: 1T\n")
                == "s.yaml:5: tokens: tokens needs step.tokens (tokens per replica per step); with step.time give steps"
        )
        #expect(
            error(base.replacingOccurrences(of: "{ time: 1s }", with: "{ tokens: 1M, device: tpu }")).hasPrefix(
                "s.yaml:3: step.device: expected one of a100, b200, h100, h200, mi300x, tpu-v5p"))
        #expect(
            error(
                "name: s\nmodel: { parameters: 1B }\nstep: { time: 1s }\nregions: [{ name: a, replicas: 1 }, { name: b, replicas: 1 }]\n"
            ).hasPrefix("s.yaml:1: links: no link from a to b"))
        #expect(
            error(
                "name: s\nmodel: { parameters: 1B }\nstep: { time: 1s }\nregions: [{ name: a, replicas: 1 }, { name: b, replicas: 1 }]\nlinks: [{ between: [a, b], bandwidth: 500kbps, latency: 1ms }]\n"
            ) == "s.yaml:5: links[0].bandwidth: expected at least 1Mbps, got 500 Kbps")
        #expect(
            error(base + "schedule: { sync: diloco, every: 0 }\n")
                == "s.yaml:5: schedule.every: expected a whole number from 1 to 1000000, got 0")
        #expect(
            error(base.replacingOccurrences(of: "replicas: 1", with: "replica: 1")).hasPrefix(
                "s.yaml:4: regions[0].replica: unknown field (did you mean replicas?)"))
    }
}
