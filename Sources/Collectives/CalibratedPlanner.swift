import Foundation

/// A planner calibrated on the ranks that will run the all-reduces: each candidate algorithm
/// is timed at a few anchor sizes on the ranks' own plane (the slowest rank's median, as the
/// bench measures), and between anchors its time follows the two nearest, fitted per size band,
/// so the cores' copy and reduce costs, the per-message costs, the wake-ups of ranks that share
/// a core and the caches' sizes are in the figures, measured, rather than guessed from a probe
/// of one link.
///
/// The choice is stable where candidates nearly tie: of the candidates whose model time is
/// within `margin` of the fastest, the first in order of preference (`preference(bytes:)`) wins,
/// so that the machine's noise between runs does not flip a choice it cannot tell apart.
public struct CalibratedPlanner: Sendable, Equatable {
    /// One candidate: an algorithm, and for `hier` the algorithm between workers.
    public struct Candidate: Sendable, Equatable, CustomStringConvertible {
        public let algorithm: AllReduceAlgorithm
        public let inner: AllReduceAlgorithm?

        public init(_ algorithm: AllReduceAlgorithm, inner: AllReduceAlgorithm? = nil) {
            self.algorithm = algorithm
            self.inner = inner
        }

        public var description: String { inner.map { "\(algorithm)(\($0))" } ?? algorithm.rawValue }
    }

    /// Candidates in order of preference.
    public let candidates: [Candidate]
    /// Anchor sizes in bytes, ascending.
    public let anchors: [Int]
    /// `seconds[c][a]`: candidate `c`'s measured time at anchor `a`.
    public let seconds: [[Double]]
    /// How much slower than the fastest a preferred candidate may be and still be chosen.
    public let margin: Double
    public let workers: Int
    public let devicesPerWorker: Int
    /// Bounds of the chunks the message-passing parts cut (`AllReducePlanner.chunkBytes`).
    public let chunkBounds: ClosedRange<Int>

    public init(
        candidates: [Candidate], anchors: [Int], seconds: [[Double]], workers: Int, devicesPerWorker: Int,
        chunkBounds: ClosedRange<Int> = AllReducePlanner.defaultChunkBounds, margin: Double = 0.25
    ) {
        precondition(!candidates.isEmpty && !anchors.isEmpty, "a calibration needs a candidate and an anchor")
        precondition(zip(anchors, anchors.dropFirst()).allSatisfy { $0 < $1 }, "anchors \(anchors) ascend")
        precondition(
            seconds.count == candidates.count && seconds.allSatisfy { $0.count == anchors.count },
            "one time per candidate and anchor")
        self.candidates = candidates
        self.anchors = anchors
        self.seconds = seconds
        self.margin = margin
        self.workers = workers
        self.devicesPerWorker = devicesPerWorker
        self.chunkBounds = chunkBounds
    }

    /// The chunk size a candidate runs `bytes` with, here and in the calibration.
    public func chunkBytes(_ candidate: Candidate, bytes: Int) -> Int {
        AllReducePlanner.chunkBytes(
            algorithm: candidate.algorithm, inner: candidate.inner, bytes: bytes, workers: workers,
            devicesPerWorker: devicesPerWorker, bounds: chunkBounds)
    }

    /// The model's time for candidate `index` at `bytes`: the first anchor's time below it; between
    /// two anchors the α-β line through them (α + β·n), where its α is not negative: exact for a
    /// per-message cost plus a cost per byte, where the power law through the same two points
    /// overstates the sizes between (in 50 sweeps over tcp, 64 KiB to 1 MiB, the median row
    /// modelled 1.03-1.07 times its time with the power law, 0.99-1.02 with the line). Where the
    /// time grows faster than the bytes (α < 0: a size outgrows a cache), the power law through
    /// the two (a straight line on log-log axes; a line in n overstated the sizes between: over
    /// tcp at P = 2, 4 MiB modelled 1.2-1.75 times its time from 2 and 8 MiB). Beyond the last
    /// anchor, the last band's power law with its exponent at most 1, so that noise in the last
    /// two anchors is not compounded.
    public func predictedSeconds(candidate index: Int, bytes: Int) -> Double {
        let times = seconds[index]
        guard bytes > anchors[0], times[0] > 0 else { return times[0] }
        guard anchors.count > 1 else { return times[0] * Double(bytes) / Double(anchors[0]) }
        let upper = max(Self.upperAnchor(of: bytes, in: anchors), 1)
        let (x0, x1) = (Double(anchors[upper - 1]), Double(anchors[upper]))
        let (y0, y1) = (times[upper - 1], max(times[upper], times[upper - 1]))
        guard y0 > 0 else { return y1 }
        let exponent = log(y1 / y0) / log(x1 / x0)
        guard bytes <= anchors.last! else { return y1 * pow(Double(bytes) / x1, min(exponent, 1)) }
        let beta = (y1 - y0) / (x1 - x0)
        let alpha = y0 - beta * x0
        if alpha >= 0 { return alpha + beta * Double(bytes) }
        return y0 * pow(Double(bytes) / x0, exponent)
    }

    /// The index of the first of `anchors` at or above `bytes`, or of the last where none is:
    /// the upper of the two anchors that predict `bytes`.
    public static func upperAnchor(of bytes: Int, in anchors: [Int]) -> Int {
        anchors.firstIndex { $0 >= bytes } ?? anchors.count - 1
    }

    /// The plan for `bytes`: the preferred candidate among those within `margin` of the fastest,
    /// by the model at `bytes` or at either anchor around it. A candidate is passed over only
    /// where the figures of both anchors agree that it is slower, not where one of them was
    /// slowed by the machine's noise: with the model alone, 2 workers × 2 devices over tcp took
    /// hier(rd) over hier(ring) at 64 KiB in one of five sweeps, and at 64 MiB in another.
    public func plan(bytes: Int, chunkBytes forced: Int? = nil) -> AllReducePlan {
        let predicted = candidates.indices.map { predictedSeconds(candidate: $0, bytes: bytes) }
        var figures = [predicted]
        if !anchors.contains(bytes) && anchors.count > 1 {
            let upper = max(Self.upperAnchor(of: bytes, in: anchors), 1)
            figures += [upper - 1, upper].map { anchor in seconds.map { $0[anchor] } }
        }
        func within(_ candidate: Int) -> Bool {
            figures.contains { $0[candidate] <= $0.min()! * (1 + margin) }
        }
        let chosen = preference(bytes: bytes).first(where: within)!
        return plan(candidate: chosen, bytes: bytes, chunkBytes: forced)
    }

    /// The candidates' indices in order of preference at `bytes`: `candidates`' order (the
    /// bandwidth-optimal first), except that below the smallest chunk the fewest rounds lead,
    /// among the flat algorithms over all ranks and among `hier`'s inner algorithms over the
    /// workers (on the bytes each stream carries), so that the measurement decides only where
    /// it finds another clearly faster:
    /// - between two ranks rd: one round where the ring takes two. Both send the same bytes; rd
    ///   reduces the whole message, the ring half. Near the sizes where they cross, the machine's
    ///   noise is larger than their difference (over tcp at 2 MiB, medians of 12 runs 0.77-1.5
    ///   times each other from sweep to sweep), so with the ring always first the choice at
    ///   256 KiB and 1 MiB flipped from run to run;
    /// - over a power of two above 2 rhd: the ring's bytes in 2 log P rounds, not 2(P - 1).
    /// At the smallest chunk the ring leads: over tcp at P = 2, 1 MiB, 12 interleaved runs, the
    /// ring took 202-206 µs in every one the machine's noise spared, and rd 176-314, in two
    /// modes; at P = 4, rhd and the ring took alike (1.41-1.56 ms and 1.36-1.72).
    public func preference(bytes: Int) -> [Int] {
        func lead(ranks: Int, bytes: Int) -> AllReduceAlgorithm? {
            guard bytes < chunkBounds.lowerBound else { return nil }
            if ranks == 2 { return .rd }
            return ranks > 2 && ranks & (ranks - 1) == 0 ? .rhd : nil
        }
        var order = Array(candidates.indices)
        func promote(_ algorithm: AllReduceAlgorithm?, hierarchical: Bool) {
            // `direct` stays first: fewer rounds than any (three barriers) and each byte read once.
            let group = order.filter {
                (candidates[$0].algorithm == .hier) == hierarchical && candidates[$0].algorithm != .direct
            }
            guard let algorithm, let first = group.first,
                let leader = group.first(where: {
                    (hierarchical ? candidates[$0].inner : candidates[$0].algorithm) == algorithm
                }), leader != first
            else { return }
            order.remove(at: order.firstIndex(of: leader)!)
            order.insert(leader, at: order.firstIndex(of: first)!)
        }
        promote(lead(ranks: workers, bytes: bytes / max(devicesPerWorker, 1)), hierarchical: true)
        promote(lead(ranks: workers * devicesPerWorker, bytes: bytes), hierarchical: false)
        return order
    }

    /// Candidate `index`'s plan for `bytes`, with the model's time.
    public func plan(candidate index: Int, bytes: Int, chunkBytes forced: Int? = nil) -> AllReducePlan {
        let candidate = candidates[index]
        return AllReducePlan(
            algorithm: candidate.algorithm, innerAlgorithm: candidate.inner,
            chunkBytes: forced ?? chunkBytes(candidate, bytes: bytes),
            streams: candidate.algorithm == .hier ? devicesPerWorker : 1,
            predictedSeconds: predictedSeconds(candidate: index, bytes: bytes))
    }

    /// One line per candidate: its time at each anchor.
    public var summary: [String] {
        candidates.indices.map { index in
            "\(candidates[index]): "
                + zip(anchors, seconds[index]).map { "\(AllReducePlan.formatBytes($0)) \(Self.format($1))" }.joined(
                    separator: ", ")
        }
    }

    static func format(_ seconds: Double) -> String {
        seconds >= 1e-2 ? "\(fixed(seconds * 1e3, 1)) ms" : "\(fixed(seconds * 1e6, 1)) µs"
    }
}
