import Collectives
import Testing

@testable import Services

@Suite("the bench planner's calibration plan")
struct BenchCalibrationTests {
    @Test(
        "candidates: bandwidth-optimal first, hier first with devices, rhd not where it is the ring, --algo keeps one")
    func candidates() {
        func names(_ workers: Int, _ devices: Int, _ forced: AllReduceAlgorithm? = nil) -> [String] {
            BenchCalibration.candidates(workers: workers, devicesPerWorker: devices, forced: forced).map(\.description)
        }
        #expect(names(2, 1) == ["ring", "rd"])
        #expect(names(4, 1) == ["ring", "rhd", "rd"])
        #expect(names(3, 1) == ["ring", "rhd", "rd"])
        #expect(names(2, 2) == ["hier(ring)", "hier(rd)", "ring", "rhd", "rd"])
        #expect(names(4, 2) == ["hier(ring)", "hier(rhd)", "hier(rd)", "ring", "rhd", "rd"])
        #expect(names(2, 2, .hier) == ["hier(ring)", "hier(rd)"])
        #expect(names(2, 1, .hier) == ["hier(ring)", "hier(rd)"])
        #expect(names(2, 1, .rhd) == ["rhd"])
        #expect(names(4, 1, .rd) == ["rd"])
        // Where the ranks share their buffers, direct comes first.
        let direct = BenchCalibration.candidates(workers: 4, devicesPerWorker: 1, forced: nil, direct: true)
        #expect(direct.map(\.description) == ["direct", "ring", "rhd", "rd"])
        #expect(
            BenchCalibration.candidates(workers: 4, devicesPerWorker: 1, forced: .direct, direct: true).map(
                \.description) == ["direct"])
    }

    @Test("anchors: 8 KiB to 32 MiB by 4, up to the largest size; a run of smaller sizes calibrates at its largest")
    func anchors() {
        let kib = 1 << 10
        let all: [Int] = [8 * kib, 32 * kib, 128 * kib, 512 * kib, 2048 * kib, 8192 * kib, 32768 * kib]
        #expect(BenchCalibration.anchors(maxBytes: 64 << 20) == all)
        #expect(BenchCalibration.anchors(maxBytes: 1 << 20) == Array(all.prefix(4)))
        #expect(BenchCalibration.anchors(maxBytes: 4096) == [4096])
        #expect(BenchCalibration.anchors(maxBytes: 4) == [4])
        // The timed runs: more of the small, at least 6 of any.
        let runs = BenchCalibration.anchors.map(BenchCalibration.repetitions(bytes:))
        #expect(runs == runs.sorted(by: >) && runs.last! >= 6)
    }

    @Test("a sweep times every anchor up to the first at or above its size before it runs that size")
    func anchorsNeeded() {
        let anchors = BenchCalibration.anchors
        #expect(BenchCalibration.anchorsNeeded(anchors, bytes: 4096) == 1)
        #expect(BenchCalibration.anchorsNeeded(anchors, bytes: 8 << 10) == 1)
        #expect(BenchCalibration.anchorsNeeded(anchors, bytes: 64 << 10) == 3)  // 8, 32, 128 KiB
        #expect(BenchCalibration.anchorsNeeded(anchors, bytes: 1 << 20) == 5)  // up to 2 MiB
        #expect(BenchCalibration.anchorsNeeded(anchors, bytes: 64 << 20) == anchors.count)
    }

    @Test("chunks over tcp 1-2 MiB; elsewhere the default bounds")
    func chunkBounds() {
        #expect(BenchCalibration.chunkBounds(kind: "tcp") == (1 << 20)...(2 << 20))
        #expect(BenchCalibration.chunkBounds(kind: "shm") == AllReducePlanner.defaultChunkBounds)
        #expect(BenchCalibration.chunkBounds(kind: "zmq") == AllReducePlanner.defaultChunkBounds)
    }
}
