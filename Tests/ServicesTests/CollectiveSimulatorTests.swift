import Collectives
import Emulation
import StraitsWire
import Testing

@testable import Services
@testable import Transport

/// The model against closed forms it must reproduce when the LAN and the CPU cost nothing
/// (to 10 µs: the 64-byte barrier messages and per-chunk rounding are in the simulation).
@Suite("the model: schedules simulated over α-β costs")
struct CollectiveSimulatorTests {
    /// Two regions of one single-device host each, joined by `link` both ways; LAN and kernels free.
    static func simulator(link: LinkSpec) -> CollectiveSimulator {
        let layout = ClusterLayout(
            regions: ["a", "b"], devicesPerWorker: 1,
            workers: [
                ControlMessage.PlanWorker(worker: 0, region: 0, host: 0, firstRank: 0, endpoints: []),
                ControlMessage.PlanWorker(worker: 1, region: 1, host: 0, firstRank: 1, endpoints: []),
            ])
        let free = LinkCost(alphaSeconds: 0, betaSecondsPerByte: 1e-15)
        return CollectiveSimulator(
            layout: layout, links: [0: [1: link], 1: [0: link]],
            costs: .init(lan: free, local: free, reduceSecondsPerByte: 0, copySecondsPerByte: 0))
    }

    /// A flat ring of 1 MiB over the two regions, `chunksPerStep` chunks per step: the model's
    /// time, and one chunk's and one step's serialisation on the link.
    static func ring(bitsPerSecond: Double, latency: Double, chunksPerStep: Int)
        -> (
            simulator: CollectiveSimulator, choice: ClusterPlanner.Choice, predicted: Double, chunk: Double,
            step: Double
        )
    {
        let simulator = Self.simulator(link: LinkSpec(bitsPerSecond: bitsPerSecond, latencySeconds: latency))
        let bytes = 1 << 20
        let chunkBytes = bytes / 2 / chunksPerStep
        let choice = ClusterPlanner(
            layout: simulator.layout, lan: .unmeasured, wan: .unmeasured, algo: .ring, chunkBytes: chunkBytes
        )
        .choose(bytes: bytes)
        let chunk = Double(chunkBytes + 64) * 8 / bitsPerSecond
        return (simulator, choice, simulator.predict(choice, bytes: bytes), chunk, Double(chunksPerStep) * chunk)
    }

    @Test("a ring of two with one chunk per step costs Hockney's 2(L + S)")
    func unpipelined() {
        let ring = Self.ring(bitsPerSecond: 100e6, latency: 0.010, chunksPerStep: 1)
        #expect(!ring.choice.hierarchical && ring.choice.algorithm == .ring)
        let expected = 2 * (0.010 + ring.step)
        #expect(abs(ring.predicted - expected) < 1e-5, "predicted \(ring.predicted) s, expected \(expected) s")
    }

    @Test("with four chunks per step the all-gather pipelines behind the reduce-scatter: 2S + L")
    func pipelined() {
        let ring = Self.ring(bitsPerSecond: 100e6, latency: 0.010, chunksPerStep: 4)
        // Each step's chunks leave back to back; the first all-gather chunk is ready long before
        // the link finishes the reduce-scatter (L + C < S), so the link never idles.
        let expected = 2 * ring.step + 0.010
        #expect(abs(ring.predicted - expected) < 1e-5, "predicted \(ring.predicted) s, expected \(expected) s")
        #expect(ring.simulator.busiestLinkSeconds(ring.choice, bytes: 1 << 20) == ring.step * 2)
    }

    @Test("a zero-copy send holds its range until the first hop has its bytes; a small one is copied and free at once")
    func zeroCopyRelease() {
        // Three single-device hosts of one region; the LAN 1 ms and 1 ns a byte; no cores.
        let layout = ClusterLayout(
            regions: ["a"], devicesPerWorker: 1,
            workers: (0..<3).map {
                ControlMessage.PlanWorker(worker: $0, region: 0, host: $0, firstRank: $0, endpoints: [])
            })
        let alpha = 1e-3
        let beta = 1e-9
        let simulator = CollectiveSimulator(
            layout: layout, links: nil,
            costs: .init(
                lan: LinkCost(alphaSeconds: alpha, betaSecondsPerByte: beta), reduceSecondsPerByte: 0,
                copySecondsPerByte: 0))
        /// Rank 0 sends `elements` to rank 1, then, once that send is done, one element to rank 2.
        func time(_ elements: Int) -> Double {
            var zero = CollectiveSchedule(rank: 0, ranks: 3)
            var one = CollectiveSchedule(rank: 1, ranks: 3)
            var two = CollectiveSchedule(rank: 2, ranks: 3)
            let first = zero.add(.send(peer: 1), ElementRange(offset: 0, count: elements), tag: 1)
            zero.add(.send(peer: 2), ElementRange(offset: 0, count: 1), tag: 2, after: [first])
            one.add(.receiveCopy(peer: 0), ElementRange(offset: 0, count: elements), tag: 1)
            two.add(.receiveCopy(peer: 0), ElementRange(offset: 0, count: 1), tag: 2)
            return simulator.simulate([zero, one, two])
        }
        // 4 MiB goes zero-copy: the second message leaves only once the first has crossed.
        let big = Double(4 << 20)
        #expect(time(1 << 20) >= 2 * alpha + big * beta, "\(time(1 << 20)) s")
        // 64 KiB is copied: both leave at once, and the larger sets the time.
        let small = time(16 << 10)
        #expect(small < alpha + 2 * Double(64 << 10) * beta && small >= alpha + Double(64 << 10) * beta, "\(small) s")
    }

    @Test("when the latency exceeds a step's serialisation, each step waits for it: K·(L + C) + S − C")
    func latencyBound() {
        let ring = Self.ring(bitsPerSecond: 1e9, latency: 0.050, chunksPerStep: 4)
        // (K − 1)·max(S, L + C) + S + L with K = 2 steps.
        let expected = max(ring.step, 0.050 + ring.chunk) + ring.step + 0.050
        #expect(abs(ring.predicted - expected) < 1e-5, "predicted \(ring.predicted) s, expected \(expected) s")
    }

    @Test(
        "gateways that allow for their hops (cut-through) save at least one uncontended hop at each end of every WAN message"
    )
    func cutThrough() {
        // Hops cost 100 µs + 1 ns a byte; a 2-rank ring of 1 MiB, one 512 KiB chunk per step, over
        // 100 Mbit/s and 10 ms (latency far above a hop, so no release waits for its last chunk).
        let layout = Self.simulator(link: LinkSpec(bitsPerSecond: 100e6, latencySeconds: 0.010)).layout
        let hop = LinkCost(alphaSeconds: 100e-6, betaSecondsPerByte: 1e-9)
        let link = LinkSpec(bitsPerSecond: 100e6, latencySeconds: 0.010)
        func model(_ gatewayHop: LinkCost?) -> CollectiveSimulator {
            CollectiveSimulator(
                layout: layout, links: [0: [1: link], 1: [0: link]],
                costs: .init(lan: hop, reduceSecondsPerByte: 0, copySecondsPerByte: 0, gatewayHop: gatewayHop))
        }
        let bytes = 1 << 20
        let choice = ClusterPlanner(
            layout: layout, lan: .unmeasured, wan: .unmeasured, algo: .ring, chunkBytes: bytes / 2
        ).choose(bytes: bytes)
        let store = model(nil).predict(choice, bytes: bytes)
        let cut = model(hop).predict(choice, bytes: bytes)
        // Each step sends one 512 KiB message each way; both cross the LAN at once, so a hop
        // takes up to α + 2b·β. The link alone: 2 steps of serialisation and latency.
        let b = Double(bytes / 2 + 64)
        let link2 = 2 * (b * 8 / 100e6 + 0.010)
        let uncontended = 100e-6 + b * 1e-9
        let contended = 100e-6 + 2 * b * 1e-9
        // Never faster than the link; what is left over it is at most the contended hop out of
        // each step (the link starts when the sender sent, and releases one uncontended hop early).
        #expect(cut >= link2, "cut-through \(cut) s against the link's \(link2) s")
        #expect(cut - link2 <= 2 * contended, "cut-through \(cut) s, link \(link2) s")
        // Store-and-forward pays a contended hop at both ends of each step.
        #expect(store - link2 > 2 * contended, "store-and-forward \(store) s, link \(link2) s")
        #expect(store - cut >= 2 * 2 * uncontended, "store-and-forward \(store) s, cut-through \(cut) s")
    }

    @Test(
        "a bench step takes the chunk the model predicts fastest: the largest that pipelines each step behind the latency"
    )
    func modelChosenChunk() {
        // 1 MiB over two regions at 100 Mbit/s and 10 ms: the planner sends each 512 KiB step as
        // one chunk, 2(L + S); in two chunks a step's second overlaps its first one's latency
        // (L + C < S), 2S + L; smaller chunks gain nothing more and carry more headers.
        let simulator = Self.simulator(link: LinkSpec(bitsPerSecond: 100e6, latencySeconds: 0.010))
        let planner = ClusterPlanner(layout: simulator.layout, lan: .unmeasured, wan: .unmeasured, algo: .ring)
        let bytes = 1 << 20
        #expect(planner.choose(bytes: bytes).chunkBytes == 512 << 10)
        #expect(planner.chunkCandidates(bytes: bytes) == [64 << 10, 128 << 10, 256 << 10])
        let own = simulator.predict(planner.choose(bytes: bytes), bytes: bytes)
        let chosen = simulator.modelChoice(planner, bytes: bytes)
        #expect(chosen.chunk == 256 << 10 && chosen.choice.chunkBytes == 256 << 10)
        #expect(
            chosen.prediction.seconds < own * 0.98,
            "chosen \(chosen.prediction.seconds) s against the planner's \(own) s")
        let two = Self.ring(bitsPerSecond: 100e6, latency: 0.010, chunksPerStep: 2)
        #expect(
            abs(chosen.prediction.seconds - (2 * two.step + 0.010)) < 1e-5 && chosen.prediction.seconds == two.predicted
        )
        // Asked for more gain than any chunk gives, the planner's choice stands.
        #expect(simulator.modelChoice(planner, bytes: bytes, gain: 0.9).chunk == nil)
        // A job that fixes its chunk has no candidates.
        let fixed = ClusterPlanner(
            layout: simulator.layout, lan: .unmeasured, wan: .unmeasured, algo: .ring, chunkBytes: 256 << 10)
        #expect(fixed.chunkCandidates(bytes: bytes).isEmpty && simulator.modelChoice(fixed, bytes: bytes).chunk == nil)
        // With a model of the cores, a chunk whose model keeps them too busy is not taken.
        var costs = simulator.costs
        costs.cores = 2
        let shared = CollectiveSimulator(layout: simulator.layout, links: simulator.links, costs: costs)
        #expect(shared.modelChoice(planner, bytes: bytes).chunk == 256 << 10)
        let refused = shared.modelChoice(planner, bytes: bytes, coresBusyBelow: 0)
        #expect(refused.chunk == nil && refused.choice == planner.choose(bytes: bytes))
        // Between regions whose links it does not know (no gateways), the model does not choose.
        let unshaped = CollectiveSimulator(layout: simulator.layout, links: nil, costs: simulator.costs)
        #expect(unshaped.modelChoice(planner, bytes: bytes).chunk == nil)
    }

    @Test(
        "a step's chunk overrides both levels of a hierarchical all-reduce, and candidates stop below the planner's largest"
    )
    func hierarchicalChunkOverride() {
        let layout = ClusterLayout(
            regions: ["a", "b"], devicesPerWorker: 1,
            workers: (0..<4).map {
                ControlMessage.PlanWorker(worker: $0, region: $0 / 2, host: $0 % 2, firstRank: $0, endpoints: [])
            })
        let planner = ClusterPlanner(layout: layout, lan: .unmeasured, wan: .unmeasured, algo: .hier)
        let bytes = 8 << 20
        let own = planner.choose(bytes: bytes)
        let largest = max(own.chunkBytes, own.regionChunkBytes)
        let candidates = planner.chunkCandidates(bytes: bytes)
        #expect(candidates.first == 64 << 10 && candidates.allSatisfy { $0 < largest && $0.nonzeroBitCount == 1 })
        #expect(candidates.last! * 2 >= largest)
        let small = planner.choose(bytes: bytes, chunkBytes: 128 << 10)
        #expect(small.hierarchical && small.regionChunkBytes == 128 << 10 && small.chunkBytes == 128 << 10)
        #expect(planner.choose(bytes: bytes, chunkBytes: nil) == own)
    }
}

/// The model of a local cluster, whose processes share the machine's cores, against closed forms.
@Suite("the model on shared cores")
struct SharedCoresModelTests {
    /// A flat ring of `bytes` over two hosts of one region, one chunk per step, on `cores`.
    static func ring(
        cores: Double, bytes: Int, beta: Double, reduce: Double = 0, copy: Double = 0, checksum: Double = 0,
        alpha: Double = 0, message: Double = 0
    ) -> Double {
        prediction(
            cores: cores, bytes: bytes, beta: beta, reduce: reduce, copy: copy, checksum: checksum, alpha: alpha,
            message: message
        ).seconds
    }

    static func prediction(
        cores: Double, bytes: Int, beta: Double, reduce: Double = 0, copy: Double = 0, checksum: Double = 0,
        alpha: Double = 0, message: Double = 0
    ) -> CollectiveSimulator.Prediction {
        let layout = ClusterLayout(
            regions: ["a"], devicesPerWorker: 1,
            workers: [
                ControlMessage.PlanWorker(worker: 0, region: 0, host: 0, firstRank: 0, endpoints: []),
                ControlMessage.PlanWorker(worker: 1, region: 0, host: 1, firstRank: 1, endpoints: []),
            ])
        var costs = CollectiveSimulator.Costs(
            lan: LinkCost(alphaSeconds: alpha, betaSecondsPerByte: beta),
            reduceSecondsPerByte: reduce, copySecondsPerByte: copy)
        costs.cores = cores
        costs.checksumSecondsPerByte = checksum
        costs.messageSeconds = message
        let simulator = CollectiveSimulator(layout: layout, links: nil, costs: costs)
        let choice = ClusterPlanner(
            layout: layout, lan: .unmeasured, wan: .unmeasured, algo: .ring, chunkBytes: bytes / 2
        ).choose(bytes: bytes)
        return simulator.prediction(choice, bytes: bytes)
    }

    @Test(
        "how busy the cores are: all of them when two copies at once need more than there is, a part when latency paces the ring"
    )
    func coresBusy() {
        // One core, two messages a step, nothing but their copies: the core never rests.
        let bytes = 1 << 20
        let one = Self.prediction(cores: 1, bytes: bytes, beta: 1e-9)
        #expect(abs((one.coresBusy ?? 0) - 1) < 1e-6, "1 core: \(String(describing: one.coresBusy))")
        // Four cores: each step's two copies use all four for b·β, then the step waits α = 9·b·β
        // with nothing to do: a tenth of the time busy.
        let b = Double(bytes / 2 + 64)
        let four = Self.prediction(cores: 4, bytes: bytes, beta: 1e-9, alpha: 9 * b * 1e-9)
        #expect(
            abs((four.coresBusy ?? 0) - 0.1) < 1e-3, "4 cores, latency-bound: \(String(describing: four.coresBusy))")
        // Without cores in the model there is nothing to say.
        let layout = ClusterLayout(
            regions: ["a"], devicesPerWorker: 1,
            workers: [
                ControlMessage.PlanWorker(worker: 0, region: 0, host: 0, firstRank: 0, endpoints: []),
                ControlMessage.PlanWorker(worker: 1, region: 0, host: 1, firstRank: 1, endpoints: []),
            ])
        let plain = CollectiveSimulator(
            layout: layout, links: nil,
            costs: CollectiveSimulator.Costs(lan: LinkCost(alphaSeconds: 0, betaSecondsPerByte: 1e-9)))
        let choice = ClusterPlanner(
            layout: layout, lan: .unmeasured, wan: .unmeasured, algo: .ring, chunkBytes: bytes / 2
        ).choose(bytes: bytes)
        #expect(plain.prediction(choice, bytes: bytes).coresBusy == nil)
    }

    @Test("counts the all-reduce's WAN arrivals, and what a spin for each would add to how busy the cores are")
    func spinsForArrivals() {
        // Two regions of one rank each, a ring of 4 chunks a step: each rank sends its 2 steps'
        // 4 chunks across the WAN (the barrier's messages are not counted).
        let link = LinkSpec(bitsPerSecond: 1e9, latencySeconds: 0.001)
        let base = CollectiveSimulatorTests.simulator(link: link)
        var costs = base.costs
        costs.cores = 2
        let simulator = CollectiveSimulator(layout: base.layout, links: [0: [1: link], 1: [0: link]], costs: costs)
        let bytes = 1 << 20
        let choice = ClusterPlanner(
            layout: base.layout, lan: .unmeasured, wan: .unmeasured, algo: .ring, chunkBytes: bytes / 8
        )
        .choose(bytes: bytes)
        let prediction = simulator.prediction(choice, bytes: bytes)
        #expect(prediction.wanArrivals == 16)
        let busy = prediction.coresBusy ?? -1
        let capacity = prediction.coreSeconds ?? 0
        #expect(busy >= 0 && capacity > 0)
        // Capacity is both cores over the time the work is counted on (at least the all-reduce's).
        #expect(capacity >= 2 * prediction.seconds * 0.99)
        let spin = 100e-6
        #expect(abs((prediction.coresBusy(spinningPerArrival: spin) ?? 0) - (busy + 16 * spin / capacity)) < 1e-12)
        // Without cores in the model there is nothing to add to.
        #expect(base.prediction(choice, bytes: bytes).coresBusy(spinningPerArrival: spin) == nil)
    }

    @Test(
        "a message is copied by both ends at once: two at a time take one step of bytes·β with four cores, four with one"
    )
    func copies() {
        // Each step both ranks send half of 1 MiB (and a 64-byte header): two messages at once.
        let bytes = 1 << 20
        let beta = 1e-9
        let b = Double(bytes / 2 + 64)
        let four = Self.ring(cores: 4, bytes: bytes, beta: beta)
        let one = Self.ring(cores: 1, bytes: bytes, beta: beta)
        #expect(abs(four - 2 * b * beta) < 1e-6, "4 cores: \(four) s")
        #expect(abs(one - 2 * 4 * b * beta) < 1e-6, "1 core: \(one) s")
    }

    @Test("reductions share the cores with everything else; each rank reduces one message at a time")
    func reductions() {
        // Free copies; reduce 1 ns and copy 0.5 ns a byte. Each step both ranks work on half of
        // 1 MiB at once: reduce-scatter, then the all-gather's copies.
        let bytes = 1 << 20
        let half = Double(bytes / 2)
        let two = Self.ring(cores: 2, bytes: bytes, beta: 1e-15, reduce: 1e-9, copy: 0.5e-9)
        let one = Self.ring(cores: 1, bytes: bytes, beta: 1e-15, reduce: 1e-9, copy: 0.5e-9)
        #expect(abs(two - half * 1.5e-9) < 1e-6, "2 cores: \(two) s")
        #expect(abs(one - 2 * half * 1.5e-9) < 1e-6, "1 core: \(one) s")
    }

    @Test("a message's own processor time is part of its α alone, and adds to the cores' load when they are short")
    func messageCost() {
        // α 50 µs, of which 80 µs of processor time at the two ends at once (40 µs); β 1 ns a byte.
        let bytes = 1 << 20
        let b = Double(bytes / 2 + 64)
        let alpha = 50e-6
        let message = 80e-6
        let four = Self.ring(cores: 4, bytes: bytes, beta: 1e-9, alpha: alpha, message: message)
        #expect(abs(four - 2 * (b * 1e-9 + alpha)) < 1e-6, "4 cores: \(four) s, as without the message's cost")
        // One core for the two messages of a step: each gets half, bytes and message cost alike.
        let one = Self.ring(cores: 1, bytes: bytes, beta: 1e-9, alpha: alpha, message: message)
        let step = (2 * b * 1e-9 + message) / 0.5 + alpha - message / 2
        #expect(abs(one - 2 * step) < 1e-6, "1 core: \(one) s against \(2 * step) s")
    }

    @Test("checksums: the sender's thread sums a message before it leaves, the receiver's before it counts")
    func checksums() {
        // β 2 ns a byte is 0.5 for each checksum and 1 for the kernel's copy at each end (at
        // once, with four cores); copies and reductions free. A step: sum, copy, check.
        let bytes = 1 << 20
        let b = Double(bytes / 2)
        let summed = Self.ring(cores: 4, bytes: bytes, beta: 2e-9, checksum: 0.5e-9)
        let expected = 2 * (b * 0.5e-9 + (b + 64) * 1e-9 + b * 0.5e-9)
        #expect(abs(summed - expected) < 1e-6, "\(summed) s against \(expected) s")
    }
}

@Suite("gateway route frame", .serialized)
struct GatewayRouteTests {
    @Test("carries the destination and, on this machine's clock, when it was sent; 8-byte frames still route")
    func frames() {
        let frame = GatewayRoute.frame(destination: 7, time: 123_456_789, clock: 42)
        #expect(frame.count == 24 && Array(frame[0..<4]) == [0x53, 0x54, 0x52, 0x47])
        #expect(
            frame.withUnsafeBytes { GatewayRoute.parse($0, clock: 42) }
                == GatewayRoute.Route(destination: 7, sentAt: 123_456_789))
        // Another machine's clock: the time means nothing here.
        #expect(
            frame.withUnsafeBytes { GatewayRoute.parse($0, clock: 43) }
                == GatewayRoute.Route(destination: 7, sentAt: nil))
        #expect(
            Array(frame[0..<8]).withUnsafeBytes { GatewayRoute.parse($0, clock: 42) }
                == GatewayRoute.Route(destination: 7, sentAt: nil))
        // Not a route: wrong magic or size.
        var bad = frame
        bad[0] = 0
        #expect(bad.withUnsafeBytes { GatewayRoute.parse($0, clock: 42) } == nil)
        #expect(Array(frame[0..<12]).withUnsafeBytes { GatewayRoute.parse($0, clock: 42) } == nil)
        #expect(GatewayRoute.clock != 0)
    }

    @Test(
        "frames carry cluster time: a process whose clock is 2.5 s behind the coordinator's reads them on its own clock"
    )
    func clusterTime() {
        defer { ClockSync.offset.store(0, ordering: .relaxed) }
        // The gateway's clock is the coordinator's (offset 0): it stamps an arrival at 10 s.
        let arrival = GatewayRoute.arrivalFrame(destination: 3, arrivesAt: 10_000_000_000)
        // A rank on a host whose clock reads 2.5 s less than the coordinator's.
        ClockSync.offset.store(2_500_000_000, ordering: .relaxed)
        #expect(
            arrival.withUnsafeBytes { GatewayRoute.parse($0, magic: GatewayRoute.arrivalMagic) }
                == GatewayRoute.Route(destination: 3, sentAt: 7_500_000_000))
        // And its route frames reach a gateway on the coordinator's clock 2.5 s later than they read here.
        let route = GatewayRoute.frame(destination: 4, sentAt: 1_000_000_000)
        ClockSync.offset.store(0, ordering: .relaxed)
        #expect(
            route.withUnsafeBytes { GatewayRoute.parse($0) }
                == GatewayRoute.Route(destination: 4, sentAt: 3_500_000_000))
    }

    @Test(
        "an arrival frame: the route's layout with magic STRA and the arrival time; a route is not one, nor one from another clock"
    )
    func arrivalFrames() {
        let frame = GatewayRoute.arrivalFrame(destination: 3, arrivesAt: 987_654_321)
        #expect(frame.count == 24 && Array(frame[0..<4]) == [0x53, 0x54, 0x52, 0x41])
        #expect(
            frame.withUnsafeBytes { GatewayRoute.parse($0, magic: GatewayRoute.arrivalMagic) }
                == GatewayRoute.Route(destination: 3, sentAt: 987_654_321))
        #expect(frame.withUnsafeBytes { GatewayRoute.parse($0) } == nil)
        let route = GatewayRoute.frame(destination: 3, sentAt: 1)
        #expect(route.withUnsafeBytes { GatewayRoute.parse($0, magic: GatewayRoute.arrivalMagic) } == nil)
        let elsewhere = GatewayRoute.frame(
            destination: 3, time: 5, clock: GatewayRoute.clock &+ 1, magic: GatewayRoute.arrivalMagic)
        #expect(
            elsewhere.withUnsafeBytes { GatewayRoute.parse($0, magic: GatewayRoute.arrivalMagic) }
                == GatewayRoute.Route(destination: 3, sentAt: nil))
    }

    @Test("processes that reach the coordinator by ipc, inproc or loopback TCP share its clock; others measure")
    func sharedClock() {
        for endpoint in [
            "ipc:///tmp/x.sock", "inproc://a", "tcp://127.0.0.1:5555", "tcp://localhost:1", "tcp://[::1]:9",
        ] {
            #expect(ClockSync.sharesClock(coordinator: endpoint), "\(endpoint)")
        }
        for endpoint in ["tcp://10.0.0.2:5555", "tcp://host-b:1", "tcp://1127.0.0.1:2"] {
            #expect(!ClockSync.sharesClock(coordinator: endpoint), "\(endpoint)")
        }
    }
}

@Suite("host calibration", .serialized)
struct HostCalibrationTests {
    @Test(
        "measures this machine: positive rates for each kind of work, and between 1 and `threads` threads' worth at once"
    )
    func measure() {
        let calibration = HostCalibration.measure(threads: 2, seconds: 0.01, rounds: 1)
        for perByte in [
            calibration.reduceSecondsPerByte, calibration.copySecondsPerByte, calibration.checksumSecondsPerByte,
        ] {
            // Between 10 MB/s and 1 TB/s: a real measurement, whatever the machine.
            #expect(perByte > 1e-12 && perByte < 1e-7, "\(perByte) s a byte")
        }
        #expect(calibration.cores >= 1 && calibration.cores <= 2 && calibration.threads == 2)
    }
}
