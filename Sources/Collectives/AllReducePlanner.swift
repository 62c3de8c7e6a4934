/// Picks the all-reduce algorithm, chunk size and streams for a message size, from α-β costs.
///
/// Costs per algorithm for `p` ranks and `n` bytes (`p'` the largest power of two ≤ `p`; a
/// non-power-of-two adds a fold in and out, `2(α + nβ)`); `γ` is the reduction's time per byte:
/// - ring: `2(p−1)α + 2(p−1)/p·n·β + (p−1)/p·n·γ`
/// - rhd (Rabenseifner): `2·log2(p')·α + 2(p'−1)/p'·n·β + (p'−1)/p'·n·γ`
/// - rd (recursive doubling): `log2(p')·(α + n·β + n·γ)`
/// - hier, `W` workers × `D` devices: a shared-memory reduce-scatter and all-gather inside each
///   worker, `2(D−1)/D·n·β_local`, plus the best flat algorithm over `W` ranks on `n/D` bytes per
///   stream, with the `D` streams sharing the inter-worker link.
public struct AllReducePlanner: Sendable {
    /// The link between workers (sockets).
    public var link: LinkCost
    /// Copies between device threads of one worker (shared memory).
    public var local: LinkCost
    /// The sum kernel's time per byte of result.
    public var reduceSecondsPerByte: Double

    public init(
        link: LinkCost, local: LinkCost = LinkCost(alphaSeconds: 2e-6, betaSecondsPerByte: 1 / 8e9),
        reduceSecondsPerByte: Double = 1 / 6e9
    ) {
        self.link = link
        self.local = local
        self.reduceSecondsPerByte = reduceSecondsPerByte
    }

    /// A plan for all-reducing `bytes` over `workers × devicesPerWorker` ranks; `algorithm`
    /// forces a choice (nil: the cheapest by the model).
    public func plan(
        bytes: Int, workers: Int, devicesPerWorker: Int, algorithm forced: AllReduceAlgorithm? = nil,
        chunkBytes: Int? = nil
    ) -> AllReducePlan {
        let chosen = planByModel(bytes: bytes, workers: workers, devicesPerWorker: devicesPerWorker, algorithm: forced)
        guard let chunkBytes else { return chosen }
        return AllReducePlan(
            algorithm: chosen.algorithm, innerAlgorithm: chosen.innerAlgorithm, chunkBytes: chunkBytes,
            streams: chosen.streams, predictedSeconds: chosen.predictedSeconds)
    }

    private func planByModel(bytes: Int, workers: Int, devicesPerWorker: Int, algorithm forced: AllReduceAlgorithm?)
        -> AllReducePlan
    {
        let ranks = workers * devicesPerWorker
        var candidates: [AllReducePlan] = []
        // `direct` needs every rank on one host with shared buffers: only the bench's calibrated
        // planner offers it.
        precondition(forced != .direct, "the α-β planner has no model of direct")
        for algorithm in AllReduceAlgorithm.allCases where algorithm != .direct {
            if let forced, forced != algorithm { continue }
            if algorithm == .hier {
                guard devicesPerWorker > 1 || forced == .hier else { continue }
                let streamBytes = bytes / max(devicesPerWorker, 1)
                let inner = flatPlans(
                    bytes: streamBytes, ranks: workers, link: sharedLink(streams: devicesPerWorker), excluding: nil
                )
                .min { $0.predictedSeconds < $1.predictedSeconds }!
                let d = Double(devicesPerWorker)
                let localSeconds =
                    devicesPerWorker > 1
                    ? 2 * local.alphaSeconds + 2 * (d - 1) / d * Double(bytes) * local.betaSecondsPerByte
                        + (d - 1) / d * Double(bytes) * reduceSecondsPerByte
                    : 0
                candidates.append(
                    AllReducePlan(
                        algorithm: .hier, innerAlgorithm: inner.algorithm, chunkBytes: inner.chunkBytes,
                        streams: devicesPerWorker, predictedSeconds: localSeconds + inner.predictedSeconds))
            } else {
                candidates += flatPlans(bytes: bytes, ranks: ranks, link: link, excluding: nil).filter {
                    $0.algorithm == algorithm
                }
            }
        }
        return candidates.min { $0.predictedSeconds < $1.predictedSeconds }!
    }

    /// The link as each of `streams` parallel streams sees it: same latency, a share of the bandwidth.
    func sharedLink(streams: Int) -> LinkCost {
        LinkCost(
            alphaSeconds: link.alphaSeconds, betaSecondsPerByte: link.betaSecondsPerByte * Double(max(streams, 1)))
    }

    func flatPlans(bytes: Int, ranks p: Int, link: LinkCost, excluding: AllReduceAlgorithm?) -> [AllReducePlan] {
        let n = Double(bytes)
        let (alpha, beta, gamma) = (link.alphaSeconds, link.betaSecondsPerByte, reduceSecondsPerByte)
        guard p > 1 else {
            return [.ring, .rhd, .rd].map {
                AllReducePlan(
                    algorithm: $0, innerAlgorithm: nil, chunkBytes: max(bytes, 4), streams: 1, predictedSeconds: 0)
            }
        }
        var p2 = 1
        while p2 * 2 <= p { p2 *= 2 }
        let log2p2 = Double(p2.trailingZeroBitCount)
        let fold = p2 == p ? 0 : 2 * (alpha + n * beta) + n * gamma
        let pd = Double(p)
        let p2d = Double(p2)

        let ringChunk = Self.ringChunkBytes(segmentBytes: bytes / p)
        let ring = 2 * (pd - 1) * alpha + 2 * (pd - 1) / pd * n * beta + (pd - 1) / pd * n * gamma
        let rhd = 2 * log2p2 * alpha + 2 * (p2d - 1) / p2d * n * beta + (p2d - 1) / p2d * n * gamma + fold
        let rd = log2p2 * (alpha + n * beta + n * gamma) + fold
        return [
            AllReducePlan(
                algorithm: .ring, innerAlgorithm: nil, chunkBytes: ringChunk, streams: 1, predictedSeconds: ring),
            AllReducePlan(
                algorithm: .rhd, innerAlgorithm: nil, chunkBytes: Self.ringChunkBytes(segmentBytes: bytes / p2),
                streams: 1, predictedSeconds: rhd),
            AllReducePlan(
                algorithm: .rd, innerAlgorithm: nil, chunkBytes: Self.ringChunkBytes(segmentBytes: bytes), streams: 1,
                predictedSeconds: rd),
        ]
    }

    /// Chunks small enough that a segment's reduction overlaps the transfer of its next chunks
    /// (eight or more chunks per segment), large enough that per-message costs stay small:
    /// within `bounds`, a whole segment where it is under twice the smallest chunk.
    public static func ringChunkBytes(segmentBytes: Int, bounds: ClosedRange<Int> = defaultChunkBounds) -> Int {
        if segmentBytes <= 2 * bounds.lowerBound { return max(segmentBytes, 4) }
        let chunk = min(max(segmentBytes / 8, bounds.lowerBound), bounds.upperBound)
        return chunk / 4096 * 4096
    }

    public static let defaultChunkBounds = (256 << 10)...(4 << 20)

    /// The chunk size `algorithm` runs `bytes` with over `workers × devicesPerWorker` ranks: the
    /// rule of `ringChunkBytes` on the segment each message carries (for `hier`, on the slice
    /// each device's stream carries between the workers).
    public static func chunkBytes(
        algorithm: AllReduceAlgorithm, inner: AllReduceAlgorithm?, bytes: Int, workers: Int, devicesPerWorker: Int,
        bounds: ClosedRange<Int> = defaultChunkBounds
    ) -> Int {
        var (algorithm, bytes, ranks) = (algorithm, bytes, workers * devicesPerWorker)
        if algorithm == .hier {
            (algorithm, bytes, ranks) = (inner ?? .ring, bytes / max(devicesPerWorker, 1), workers)
        }
        var p2 = 1
        while p2 * 2 <= ranks { p2 *= 2 }
        switch algorithm {
        case .ring: return ringChunkBytes(segmentBytes: bytes / max(ranks, 1), bounds: bounds)
        case .rhd: return ringChunkBytes(segmentBytes: bytes / p2, bounds: bounds)
        case .rd, .hier: return ringChunkBytes(segmentBytes: bytes, bounds: bounds)
        case .direct: return max(bytes / max(ranks, 1), 4)  // each rank's slice; no message carries it
        }
    }
}

/// What the planner chose for one message size.
public struct AllReducePlan: Sendable, Equatable, CustomStringConvertible {
    public let algorithm: AllReduceAlgorithm
    /// For `hier`: the algorithm between workers on each device's slice.
    public let innerAlgorithm: AllReduceAlgorithm?
    /// Chunk size of the message-passing parts, in bytes.
    public let chunkBytes: Int
    /// Parallel streams between workers (one per device for `hier`).
    public let streams: Int
    /// The model's time for one all-reduce, in seconds.
    public let predictedSeconds: Double

    public init(
        algorithm: AllReduceAlgorithm, innerAlgorithm: AllReduceAlgorithm?, chunkBytes: Int, streams: Int,
        predictedSeconds: Double
    ) {
        self.algorithm = algorithm
        self.innerAlgorithm = innerAlgorithm
        self.chunkBytes = chunkBytes
        self.streams = streams
        self.predictedSeconds = predictedSeconds
    }

    public var chunkElements: Int { max(1, chunkBytes / MemoryLayout<Float>.size) }

    public var description: String {
        let name = innerAlgorithm.map { "\(algorithm)(\($0))" } ?? algorithm.rawValue
        // `direct` sends no messages, so it has no chunks.
        let chunk = algorithm == .direct ? "" : ", chunk \(Self.formatBytes(chunkBytes))"
        return
            "\(name)\(chunk), \(streams) stream\(streams == 1 ? "" : "s"), model \(fixed(predictedSeconds * 1e6, 1)) µs"
    }

    public static func formatBytes(_ bytes: Int) -> String {
        if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) B"
    }
}
