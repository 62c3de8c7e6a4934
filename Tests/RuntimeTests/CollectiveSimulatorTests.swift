import Collectives
import Emulation
import StraitsWire
import Testing
@testable import Runtime

/// The model against closed forms it must reproduce when the LAN and the CPU cost nothing
/// (to 10 µs: the 64-byte barrier messages and per-chunk rounding are in the simulation).
@Suite("the model: schedules simulated over α-β costs")
struct CollectiveSimulatorTests {
    /// Two regions of one single-device host each, joined by `link` both ways; LAN and kernels free.
    static func simulator(link: LinkSpec) -> CollectiveSimulator {
        let layout = ClusterLayout(regions: ["a", "b"], devicesPerWorker: 1, workers: [
            ControlMessage.PlanWorker(worker: 0, region: 0, host: 0, firstRank: 0, endpoints: []),
            ControlMessage.PlanWorker(worker: 1, region: 1, host: 0, firstRank: 1, endpoints: []),
        ])
        let free = LinkCost(alphaSeconds: 0, betaSecondsPerByte: 1e-15)
        return CollectiveSimulator(layout: layout, links: [0: [1: link], 1: [0: link]],
                                   costs: .init(lan: free, local: free, reduceSecondsPerByte: 0, copySecondsPerByte: 0))
    }

    static func choice(_ simulator: CollectiveSimulator, chunkBytes: Int, bytes: Int) -> ClusterPlanner.Choice {
        ClusterPlanner(layout: simulator.layout, lan: .unmeasured, wan: .unmeasured, algo: "ring", chunkBytes: chunkBytes)
            .choose(bytes: bytes)
    }

    @Test("a ring of two with one chunk per step costs Hockney's 2(L + S)")
    func unpipelined() {
        let link = LinkSpec(bitsPerSecond: 100e6, latencySeconds: 0.010)
        let simulator = Self.simulator(link: link)
        let bytes = 1 << 20
        let choice = Self.choice(simulator, chunkBytes: bytes / 2, bytes: bytes)
        #expect(!choice.hierarchical && choice.algorithm == .ring)
        let step = Double(bytes / 2 + 64) * 8 / 100e6
        let expected = 2 * (0.010 + step)
        let predicted = simulator.predict(choice, bytes: bytes)
        #expect(abs(predicted - expected) < 1e-5, "predicted \(predicted) s, expected \(expected) s")
    }

    @Test("with four chunks per step the all-gather pipelines behind the reduce-scatter: 2S + L")
    func pipelined() {
        let link = LinkSpec(bitsPerSecond: 100e6, latencySeconds: 0.010)
        let simulator = Self.simulator(link: link)
        let bytes = 1 << 20
        let choice = Self.choice(simulator, chunkBytes: bytes / 8, bytes: bytes)
        let step = Double(4 * (bytes / 8 + 64)) * 8 / 100e6
        // Each step's chunks leave back to back; the first all-gather chunk is ready long before
        // the link finishes the reduce-scatter (L + C < S), so the link never idles.
        let expected = 2 * step + 0.010
        let predicted = simulator.predict(choice, bytes: bytes)
        #expect(abs(predicted - expected) < 1e-5, "predicted \(predicted) s, expected \(expected) s")
        #expect(simulator.busiestLinkSeconds(choice, bytes: bytes) == step * 2)
    }

    @Test("when the latency exceeds a step's serialisation, each step waits for it: K·(L + C) + S − C")
    func latencyBound() {
        let link = LinkSpec(bitsPerSecond: 1e9, latencySeconds: 0.050)
        let simulator = Self.simulator(link: link)
        let bytes = 1 << 20
        let choice = Self.choice(simulator, chunkBytes: bytes / 8, bytes: bytes)
        let chunk = Double(bytes / 8 + 64) * 8 / 1e9, step = 4 * chunk
        // (K − 1)·max(S, L + C) + S + L with K = 2 steps.
        let expected = max(step, 0.050 + chunk) + step + 0.050
        let predicted = simulator.predict(choice, bytes: bytes)
        #expect(abs(predicted - expected) < 1e-5, "predicted \(predicted) s, expected \(expected) s")
    }
}
