/// How a step's gradient is cut into buckets, in backward order (the last layer's first), as
/// [offset, count] in float32 elements.
public enum BucketPlanner {
    /// Whole tensors in backward order, each bucket filled to at least `bytes` (a tensor larger
    /// than that is a bucket of its own), as PyTorch DDP's `bucket_cap_mb` does.
    public static func fixed(_ model: MLP, bytes: Int) -> [[Int]] {
        var buckets: [[Int]] = []
        var start = model.parameterCount
        var end = model.parameterCount
        for tensor in model.tensorsInBackwardOrder {
            start = tensor.offset
            if (end - start) * 4 >= bytes {
                buckets.append([start, end - start])
                end = start
            }
        }
        if end > start || buckets.isEmpty { buckets.append([start, end - start]) }
        return buckets
    }

    /// The grouping of consecutive layers whose all-reduces end soonest after the backward pass
    /// starts, when each group leaves as its first layer (in forward order) finishes and the
    /// groups' all-reduces run one after another. `backward[l]` is layer l's backward time;
    /// `cost(bytes)` one all-reduce's time. Many small buckets overlap more of the backward
    /// pass; each pays the all-reduce's latency, which across a WAN can be most of its cost.
    ///
    /// Exact by dynamic programming over the layers in backward order: the finish time of a
    /// group only grows with the finish time of the group before it, so the best plan for the
    /// first j layers extends a best plan for a shorter prefix.
    public static func fastest(_ model: MLP, backward: [Double], cost: (Int) -> Double) -> (
        buckets: [[Int]], finish: Double
    ) {
        let depth = model.depth
        precondition(backward.count == depth, "\(backward.count) backward times for \(depth) layers")
        let layers = Array((0..<depth).reversed())  // backward order
        func range(_ from: Int, _ to: Int) -> (offset: Int, count: Int) {
            // Layers layers[from] (latest in forward order) down to layers[to - 1].
            let low = layers[to - 1]
            let high = layers[from]
            let offset = model.weightOffsets[low]
            return (offset, model.biasOffset(high) + model.layers[high + 1] - offset)
        }
        var ready = [Double](repeating: 0, count: depth + 1)
        for j in 1...depth { ready[j] = ready[j - 1] + backward[layers[j - 1]] }
        var best = [Double](repeating: .infinity, count: depth + 1)
        var choice = [Int](repeating: 0, count: depth + 1)
        best[0] = 0
        var costs: [Int: Double] = [:]
        for j in 1...depth {
            for i in 0..<j {
                let bytes = range(i, j).count * 4
                let c = costs[bytes] ?? cost(bytes)
                costs[bytes] = c
                let finish = max(ready[j], best[i]) + c
                if finish < best[j] {
                    best[j] = finish
                    choice[j] = i
                }
            }
        }
        var buckets: [[Int]] = []
        var j = depth
        while j > 0 {
            let i = choice[j]
            let r = range(i, j)
            buckets.append([r.offset, r.count])
            j = i
        }
        return (buckets.reversed(), best[depth])
    }

    /// Each layer's backward time when a step's compute takes `seconds`, shared out by FLOPs.
    public static func backwardSeconds(_ model: MLP, batch: Int, computeSeconds seconds: Double) -> [Double] {
        let flops = model.flops(batch: batch)
        let total = flops.forward + flops.backward.reduce(0, +)
        return flops.backward.map { seconds * $0 / total }
    }
}
