import Collectives
import Foundation
import Transport

/// The planner of `straits bench allreduce`, calibrated on the ranks' own plane as the sweep goes
/// (`CalibratedPlanner`, `Sweep`): every rank runs each candidate algorithm at a few anchor sizes,
/// timed as the bench times (a barrier, then the slowest rank; the median of 9 to 36 runs), and
/// all ranks agree on each anchor's figures through one exact all-reduce, so that they choose
/// alike.
///
/// The anchors lie between the sizes a `-f 4` sweep from 64 KiB measures (8 KiB to 32 MiB by 4,
/// up to the largest size run), so that the model column of such a sweep is the calibration's
/// line at every row, not a repeat of one of its measurements. Anchors 16 times apart missed
/// the caches' steps: over tcp at P = 2, 256 KiB modelled 96 µs from 128 KiB and 2 MiB, and
/// took 75.
///
/// Before it, the bench planned with an α-β model from a probe of one link and the host's
/// measured reduce and copy rates. Over tcp at P = 2 that model was 0.5-2 times the measured
/// time: it knew nothing of the caches (1 MiB took 0.19 ns a byte, 4 MiB and up 0.45), of the
/// wake-ups of ranks that share a core, or of the device group's barriers (`hier` at 64 KiB took
/// 350 µs against 100 µs modelled).
enum BenchCalibration {
    static let anchors = [8 << 10, 32 << 10, 128 << 10, 512 << 10, 2 << 20, 8 << 20, 32 << 20]
    /// Turns each candidate takes at each anchor, and the untimed runs that start each turn (with
    /// two turns of two, the model was 1.1 times the measured time over tcp at P = 2 on the
    /// median row).
    static let turns = 3
    static let warmupPerTurn = 4

    /// Timed runs in each turn: 3 of the largest, up to 12 of the smallest (small messages vary
    /// most from run to run, and cost least to repeat: at P = 2 over tcp, 6 runs of 2 MiB took
    /// 0.40-0.69 ms from sweep to sweep).
    static func runsPerTurn(bytes: Int) -> Int {
        switch bytes {
        case ...(32 << 10): 12
        case ...(128 << 10): 10
        case ...(512 << 10): 8
        case ...(2 << 20): 6
        case ...(8 << 20): 4
        default: 3
        }
    }

    /// The fewest and the most timed runs per candidate and anchor, for the bench's header.
    static var runsDescription: String {
        let counts = anchors.map(repetitions(bytes:))
        return "\(counts.min()!) to \(counts.max()!)"
    }

    /// Timed runs per candidate and anchor in all.
    static func repetitions(bytes: Int) -> Int { turns * runsPerTurn(bytes: bytes) }

    /// The all-reduces a calibration runs, timed or not: what the launcher allows it time for.
    static func allReduces(
        workers: Int, devicesPerWorker: Int, forced: AllReduceAlgorithm?, direct: Bool, maxBytes: Int
    ) -> Int {
        let perCandidate = anchors(maxBytes: maxBytes).map { turns * (runsPerTurn(bytes: $0) + warmupPerTurn) }
        return candidates(workers: workers, devicesPerWorker: devicesPerWorker, forced: forced, direct: direct).count
            * perCandidate.reduce(0, +)
    }

    /// The anchors a run up to `maxBytes` calibrates at: those within it, at least the smallest.
    static func anchors(maxBytes: Int) -> [Int] {
        let within = anchors.filter { $0 <= maxBytes }
        return within.isEmpty ? [max(maxBytes / 4 * 4, 4)] : within
    }

    /// The candidates, bandwidth-optimal first: `direct` where the ranks share their buffers
    /// (`direct`), with devices `hier` over each inner algorithm, and the flat ones over all
    /// ranks. Recursive halving-doubling over 2 ranks is the ring, so it is not run twice;
    /// `forced` keeps only that algorithm.
    static func candidates(workers: Int, devicesPerWorker: Int, forced: AllReduceAlgorithm?, direct: Bool = false)
        -> [CalibratedPlanner.Candidate]
    {
        let ranks = workers * devicesPerWorker
        var candidates: [CalibratedPlanner.Candidate] = direct ? [.init(.direct)] : []
        if devicesPerWorker > 1 || forced == .hier {
            for inner in [AllReduceAlgorithm.ring, .rhd, .rd] where !(inner == .rhd && workers == 2) {
                candidates.append(.init(.hier, inner: inner))
            }
        }
        for algorithm in [AllReduceAlgorithm.ring, .rhd, .rd] where !(algorithm == .rhd && ranks == 2) {
            candidates.append(.init(algorithm))
        }
        guard let forced else { return candidates }
        let kept = candidates.filter { $0.algorithm == forced }
        return kept.isEmpty ? [.init(forced)] : kept
    }

    /// The chunks' bounds: over tcp the stream plane's messages go best whole up to 2 MiB (at
    /// 4 MiB, P = 2, interleaved 4 times: 256 KiB chunks 1.79-1.94 ms, 512 KiB 1.32-1.43,
    /// 1 MiB 1.34-1.36, 2 MiB 0.96-1.10), elsewhere 256 KiB to 4 MiB.
    static func chunkBounds(kind: String) -> ClosedRange<Int> {
        kind == "tcp" ? (1 << 20)...(2 << 20) : AllReducePlanner.defaultChunkBounds
    }

    /// How many of `anchors` a sweep has timed once it reaches `bytes`: every anchor up to the
    /// first at or above it, so that the two around it are known.
    static func anchorsNeeded(_ anchors: [Int], bytes: Int) -> Int {
        CalibratedPlanner.upperAnchor(of: bytes, in: anchors) + 1
    }

    /// One run's calibration, timed anchor by anchor just before the first size that needs it
    /// (every rank of the run calls it at the same points), so that an anchor is timed a moment
    /// before the sizes it predicts and a spell of the machine's noise falls on both alike. Timed
    /// all at start-up, seconds before the sweep, whole sweeps were off: in two sets of 24
    /// sweeps (P = 2 over tcp and 2 workers × 2 devices, 64 KiB to 64 MiB), run alternately with
    /// either calibration, the model was within ±25% of 73% of rows timed at start-up and of 90%
    /// timed anchor by anchor.
    final class Sweep {
        let run: BenchIterations
        let anchors: [Int]
        let candidates: [CalibratedPlanner.Candidate]
        let bounds: ClosedRange<Int>
        let chunkBytes: Int?
        /// `seconds[c]`: candidate `c`'s time at each anchor timed so far.
        private(set) var seconds: [[Double]]
        /// The candidates' plans at the anchors, before any time is known.
        private let untimed: CalibratedPlanner

        init(_ run: BenchIterations, maxBytes: Int, forced: AllReduceAlgorithm?, chunkBytes: Int?) {
            let anchors = BenchCalibration.anchors(maxBytes: maxBytes)
            let candidates = BenchCalibration.candidates(
                workers: run.workers, devicesPerWorker: run.devices, forced: forced, direct: run.plane.host != nil)
            let bounds = chunkBounds(kind: run.plane.kind)
            self.run = run
            self.anchors = anchors
            self.candidates = candidates
            self.bounds = bounds
            self.chunkBytes = chunkBytes
            seconds = candidates.map { _ in [] }
            untimed = CalibratedPlanner(
                candidates: candidates, anchors: anchors, seconds: candidates.map { _ in anchors.map { _ in 0 } },
                workers: run.workers, devicesPerWorker: run.devices, chunkBounds: bounds)
        }

        /// The planner over the anchors timed so far.
        var planner: CalibratedPlanner {
            let timed = seconds[0].count
            return CalibratedPlanner(
                candidates: candidates, anchors: Array(anchors.prefix(max(timed, 1))),
                seconds: timed == 0 ? candidates.map { _ in [0] } : seconds, workers: run.workers,
                devicesPerWorker: run.devices, chunkBounds: bounds)
        }

        /// The planner for `bytes`: first times the anchors it needs that are not timed yet.
        func planner(for bytes: Int) throws -> CalibratedPlanner {
            while seconds[0].count < anchorsNeeded(anchors, bytes: bytes) {
                try time(anchor: anchors[seconds[0].count])
            }
            return planner
        }

        /// Times every candidate at `anchor` and agrees on the figures with the other ranks.
        /// Candidates take turns, so that a spell of the machine's noise slows them alike and
        /// leaves their order as it was (run back to back, one candidate's runs could all fall
        /// in one). Each turn starts with untimed runs: the first runs after another candidate's
        /// find the caches and the sockets' buffers as that one left them (with one untimed run
        /// and two timed per turn, 2 MiB over tcp at P = 2 took 0.26 ns a byte, against 0.21 for
        /// the sweep's back-to-back 4 MiB).
        private func time(anchor: Int) throws {
            let plans = candidates.indices.map { untimed.plan(candidate: $0, bytes: anchor, chunkBytes: chunkBytes) }
            let runs = runsPerTurn(bytes: anchor)
            var mine: [Double] = []
            for _ in 0..<turns {
                for plan in plans {
                    mine += try run.time(plan, count: anchor / 4, iterations: runs, warmup: warmupPerTurn)
                }
            }
            // mine: by turn, then candidate, then run; each figure the slowest rank's.
            let all = try run.gather(mine)
            for candidate in candidates.indices {
                let slowest = (0..<turns).flatMap { turn in
                    (0..<runs).map { index in
                        all.map { $0[(turn * candidates.count + candidate) * runs + index] }.max()!
                    }
                }
                seconds[candidate].append(slowest.median)
            }
        }
    }
}
