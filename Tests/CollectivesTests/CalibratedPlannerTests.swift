import Collectives
import Foundation
import Testing

@Suite("the calibrated planner")
struct CalibratedPlannerTests {
    /// ring: 20 µs + 1 ns/B; rd: 10 µs + 2 ns/B (crossover at 10,000 bytes), at anchors 1 KiB to 1 MiB.
    static let anchors = [1 << 10, 16 << 10, 256 << 10, 1 << 20]
    static func line(_ alpha: Double, _ beta: Double) -> [Double] { anchors.map { alpha + beta * Double($0) } }
    static let planner = CalibratedPlanner(
        candidates: [.init(.ring), .init(.rd)], anchors: anchors,
        seconds: [line(20e-6, 1e-9), line(10e-6, 2e-9)], workers: 2, devicesPerWorker: 1, margin: 0)

    @Test(
        "between anchors the α-β line through the nearest two, or where the time grows faster than the bytes the power law; below the first, the first; beyond the last, the last band's law, at most linear"
    )
    func interpolation() {
        // T = 10 µs × (n / 1 KiB)^k: k = 0.5 for one candidate, 1.5 for the other.
        func law(_ exponent: Double) -> [Double] { Self.anchors.map { 10e-6 * pow(Double($0) / 1024, exponent) } }
        let planner = CalibratedPlanner(
            candidates: [.init(.ring), .init(.rd)], anchors: Self.anchors, seconds: [law(0.5), law(1.5)], workers: 2,
            devicesPerWorker: 1)
        for bytes in [2 << 10, 100 << 10, 700 << 10] {
            // The square root: the line through the two anchors around it, which lies below.
            let upper = Self.anchors.firstIndex { $0 >= bytes }!
            let (x0, x1) = (Double(Self.anchors[upper - 1]), Double(Self.anchors[upper]))
            let (y0, y1) = (planner.seconds[0][upper - 1], planner.seconds[0][upper])
            let line = y0 + (y1 - y0) / (x1 - x0) * (Double(bytes) - x0)
            #expect(abs(planner.predictedSeconds(candidate: 0, bytes: bytes) / line - 1) < 1e-9)
            #expect(line < 10e-6 * pow(Double(bytes) / 1024, 0.5))
            // The 1.5 power: its line would have α < 0, so the power law, exact.
            let expected = 10e-6 * pow(Double(bytes) / 1024, 1.5)
            #expect(abs(planner.predictedSeconds(candidate: 1, bytes: bytes) / expected - 1) < 1e-9)
        }
        // α + β·n is exact between anchors.
        for bytes in [2 << 10, 100 << 10, 700 << 10] {
            #expect(
                abs(Self.planner.predictedSeconds(candidate: 0, bytes: bytes) / (20e-6 + 1e-9 * Double(bytes)) - 1)
                    < 1e-9)
        }
        #expect(planner.predictedSeconds(candidate: 1, bytes: 10) == 10e-6)
        // Beyond 1 MiB: the square root goes on; the 1.5 power is held to linear.
        let beyond = 4 << 20
        #expect(abs(planner.predictedSeconds(candidate: 0, bytes: beyond) / (10e-6 * pow(4096, 0.5)) - 1) < 1e-9)
        #expect(abs(planner.predictedSeconds(candidate: 1, bytes: beyond) / (planner.seconds[1][3] * 4) - 1) < 1e-9)
        for (index, anchor) in Self.anchors.enumerated() {
            #expect(abs(planner.predictedSeconds(candidate: 0, bytes: anchor) / planner.seconds[0][index] - 1) < 1e-12)
        }
    }

    @Test("the fastest by the model wins where no margin is given, with its chunk and model time")
    func fastest() {
        let small = Self.planner.plan(bytes: 4 << 10)
        #expect(small.algorithm == .rd && small.chunkBytes == 4 << 10)
        #expect(small.predictedSeconds == Self.planner.predictedSeconds(candidate: 1, bytes: 4 << 10))
        let large = Self.planner.plan(bytes: 8 << 20)
        #expect(large.algorithm == .ring && large.chunkBytes == 512 << 10 && large.streams == 1)
        #expect(Self.planner.plan(bytes: 8 << 20, chunkBytes: 64 << 10).chunkBytes == 64 << 10)
    }

    @Test("within the margin the candidate listed first wins, so that near-ties do not flip with noise")
    func margin() {
        // Over 3 ranks (not a power of two) the order is the order listed.
        let planner = CalibratedPlanner(
            candidates: [.init(.ring), .init(.rd)], anchors: Self.anchors,
            seconds: [Self.line(20e-6, 1e-9), Self.line(10e-6, 2e-9)], workers: 3, devicesPerWorker: 1, margin: 0.25)
        // At 8 KiB the model has rd at 31.2 µs and ring at 31.7 µs: within 25%.
        #expect(planner.plan(bytes: 8 << 10).algorithm == .ring)
        // At 1 KiB (an anchor) rd takes 12.0 µs and ring 21.0 µs: more than 25% faster.
        #expect(planner.plan(bytes: 1 << 10).algorithm == .rd)
        // Noise of ±5% on every figure, against each other, changes neither choice.
        for scale in [0.95, 1.05] {
            let noisy = CalibratedPlanner(
                candidates: planner.candidates, anchors: Self.anchors,
                seconds: [planner.seconds[0].map { $0 * scale }, planner.seconds[1].map { $0 / scale }], workers: 3,
                devicesPerWorker: 1, margin: 0.25)
            #expect(noisy.plan(bytes: 8 << 10).algorithm == .ring)
            #expect(noisy.plan(bytes: 1 << 10).algorithm == .rd)
        }
    }

    @Test(
        "below the smallest chunk rd leads between two ranks and rhd over a power of two above 2, the ring from it; hier first, its inner algorithm by the bytes of a stream"
    )
    func preference() {
        let flat: [CalibratedPlanner.Candidate] = [.init(.ring), .init(.rhd), .init(.rd)]
        let tied = flat.map { _ in Self.line(20e-6, 1e-9) }
        let tcp = (1 << 20)...(2 << 20)
        let two = CalibratedPlanner(
            candidates: [.init(.ring), .init(.rd)], anchors: Self.anchors, seconds: [tied[0], tied[0]], workers: 2,
            devicesPerWorker: 1, chunkBounds: tcp)
        #expect(two.plan(bytes: 64 << 10).algorithm == .rd)
        #expect(two.plan(bytes: (1 << 20) - 4).algorithm == .rd)
        #expect(two.plan(bytes: 1 << 20).algorithm == .ring)
        #expect(two.plan(bytes: 64 << 20).algorithm == .ring)
        // With the default bounds rd leads below 256 KiB.
        let shm = CalibratedPlanner(
            candidates: two.candidates, anchors: Self.anchors, seconds: two.seconds, workers: 2, devicesPerWorker: 1)
        #expect(shm.plan(bytes: 128 << 10).algorithm == .rd && shm.plan(bytes: 256 << 10).algorithm == .ring)
        // The one that leads loses where another is more than the margin faster.
        let ringFaster = CalibratedPlanner(
            candidates: two.candidates, anchors: Self.anchors,
            seconds: [tied[0].map { $0 * 0.7 }, tied[0]], workers: 2, devicesPerWorker: 1, chunkBounds: tcp)
        #expect(ringFaster.plan(bytes: 64 << 10).algorithm == .ring)
        let four = CalibratedPlanner(
            candidates: flat, anchors: Self.anchors, seconds: tied, workers: 4, devicesPerWorker: 1)
        #expect(four.preference(bytes: 64 << 10) == [1, 0, 2] && four.plan(bytes: 64 << 10).algorithm == .rhd)
        #expect(four.preference(bytes: 1 << 20) == [0, 1, 2] && four.plan(bytes: 1 << 20).algorithm == .ring)
        let three = CalibratedPlanner(
            candidates: flat, anchors: Self.anchors, seconds: tied, workers: 3, devicesPerWorker: 1)
        #expect(three.preference(bytes: 64 << 10) == [0, 1, 2])
        let devices = CalibratedPlanner(
            candidates: [.init(.hier, inner: .ring), .init(.hier, inner: .rd)] + flat, anchors: Self.anchors,
            seconds: tied + tied.prefix(2), workers: 2, devicesPerWorker: 2)
        // With devices, hier's inner algorithm over the workers leads by the bytes of a stream:
        // 256 KiB over 2 devices is 128 KiB a stream, rd; 512 KiB is 256 KiB, the ring.
        #expect(devices.preference(bytes: 64 << 10) == [1, 0, 3, 2, 4])
        #expect(devices.preference(bytes: 256 << 10) == [1, 0, 2, 3, 4])
        #expect(devices.preference(bytes: 512 << 10) == [0, 1, 2, 3, 4])
        let plan = devices.plan(bytes: 64 << 10)
        #expect(plan.algorithm == .hier && plan.innerAlgorithm == .rd)
        // `direct` stays first at every size; the structural lead orders the rest behind it.
        let direct = CalibratedPlanner(
            candidates: [.init(.direct)] + flat, anchors: Self.anchors, seconds: tied + tied.prefix(1), workers: 4,
            devicesPerWorker: 1)
        #expect(direct.preference(bytes: 64 << 10) == [0, 2, 1, 3])
        #expect(direct.preference(bytes: 64 << 20) == [0, 1, 2, 3])
        #expect(direct.plan(bytes: 64 << 10).algorithm == .direct)
        #expect(!direct.plan(bytes: 64 << 10).description.contains("chunk"))
    }

    @Test("a candidate is passed over only where both anchors around the size find it beyond the margin")
    func bothAnchors() {
        let rd = Self.anchors.map { 10e-6 + 1e-9 * Double($0) }
        func planner(_ factors: [Double]) -> CalibratedPlanner {
            CalibratedPlanner(
                candidates: [.init(.ring), .init(.rd)], anchors: Self.anchors,
                seconds: [zip(rd, factors).map(*), rd], workers: 3, devicesPerWorker: 1)
        }
        // The ring 1.1 and 1.6 times rd at 16 and 256 KiB: 1.33 times at 64 KiB by the model,
        // but within 25% at 16 KiB, so it stays.
        let oneAnchor = planner([1, 1.1, 1.6, 1.6])
        let model = (0..<2).map { oneAnchor.predictedSeconds(candidate: $0, bytes: 64 << 10) }
        #expect(model[0] / model[1] > 1.25)
        #expect(oneAnchor.plan(bytes: 64 << 10).algorithm == .ring)
        // 1.4 and 1.6 times: passed over. At an anchor, only its own figures count.
        #expect(planner([1, 1.4, 1.6, 1.6]).plan(bytes: 64 << 10).algorithm == .rd)
        #expect(oneAnchor.plan(bytes: 256 << 10).algorithm == .rd)
    }

    @Test("hier plans one stream per device, with the chunk of the slice each stream carries")
    func hierarchical() {
        let planner = CalibratedPlanner(
            candidates: [.init(.hier, inner: .ring), .init(.rd)], anchors: [1 << 20], seconds: [[1e-3], [2e-3]],
            workers: 2, devicesPerWorker: 2)
        let plan = planner.plan(bytes: 16 << 20)
        #expect(plan.algorithm == .hier && plan.innerAlgorithm == .ring && plan.streams == 2)
        // 16 MiB over 2 devices is 8 MiB a stream, 4 MiB a segment between 2 workers.
        #expect(
            plan.chunkBytes
                == AllReducePlanner.ringChunkBytes(segmentBytes: 4 << 20, bounds: AllReducePlanner.defaultChunkBounds))
        #expect(planner.summary == ["hier(ring): 1 MiB 1000.0 µs", "rd: 1 MiB 2000.0 µs"])
    }

    @Test("chunks stay within the bounds given, whole segments under twice the smallest")
    func chunks() {
        let tcp = (1 << 20)...(2 << 20)
        #expect(AllReducePlanner.ringChunkBytes(segmentBytes: 2 << 20, bounds: tcp) == 2 << 20)
        #expect(AllReducePlanner.ringChunkBytes(segmentBytes: 8 << 20, bounds: tcp) == 1 << 20)
        #expect(AllReducePlanner.ringChunkBytes(segmentBytes: 32 << 20, bounds: tcp) == 2 << 20)
        #expect(AllReducePlanner.ringChunkBytes(segmentBytes: 32 << 20) == 4 << 20)
        #expect(
            AllReducePlanner.chunkBytes(algorithm: .rhd, inner: nil, bytes: 12 << 20, workers: 3, devicesPerWorker: 1)
                == AllReducePlanner.ringChunkBytes(segmentBytes: 6 << 20))
    }
}
