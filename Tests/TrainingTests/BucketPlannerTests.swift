import Emulation
import Testing

@testable import Training

@Suite("gradient buckets")
struct BucketPlannerTests {
    static let model = MLP(layers: [16, 64, 64, 32, 32, 8])

    /// The finish time of a grouping, simulated the slow way.
    static func finish(_ buckets: [[Int]], backward: [Double], cost: (Int) -> Double) -> Double {
        var end = 0.0
        for bucket in buckets {
            // Ready when the backward pass has passed the bucket's first layer (in forward order).
            let first = model.weightOffsets.lastIndex { $0 <= bucket[0] }!
            let ready = (first..<model.depth).reduce(0.0) { $0 + backward[$1] }
            end = max(end, ready) + cost(bucket[1] * 4)
        }
        return end
    }

    static func covers(_ buckets: [[Int]]) -> Bool {
        var end = model.parameterCount
        for bucket in buckets {
            guard bucket[0] + bucket[1] == end else { return false }
            end = bucket[0]
        }
        return end == 0
    }

    @Test("latency-bound all-reduces make one bucket; free ones make a bucket per layer")
    func extremes() {
        let backward = [1.0, 2, 3, 4, 5]
        let one = BucketPlanner.fastest(Self.model, backward: backward) { _ in 100 }
        #expect(one.buckets == [[0, Self.model.parameterCount]] && one.finish == 115)
        let many = BucketPlanner.fastest(Self.model, backward: backward) { Double($0) * 1e-9 }
        #expect(many.buckets.count == Self.model.depth && Self.covers(many.buckets))
    }

    @Test("the plan is the best of every grouping of consecutive layers")
    func optimal() {
        var random = SplitMix64(seed: 3)
        for _ in 0..<40 {
            let backward = (0..<Self.model.depth).map { _ in random.nextUnit() * 10 }
            let alpha = random.nextUnit() * 8
            let beta = random.nextUnit() * 1e-3
            let cost = { (bytes: Int) in alpha + beta * Double(bytes) }
            let plan = BucketPlanner.fastest(Self.model, backward: backward, cost: cost)
            #expect(Self.covers(plan.buckets))
            #expect(abs(Self.finish(plan.buckets, backward: backward, cost: cost) - plan.finish) < 1e-9)
            // Every way to cut the layers (backward order) into consecutive groups.
            var best = Double.infinity
            for mask in 0..<(1 << (Self.model.depth - 1)) {
                var buckets: [[Int]] = []
                var high = Self.model.depth - 1
                for cut in (0..<Self.model.depth).reversed() where cut == 0 || mask & (1 << (cut - 1)) != 0 {
                    let offset = Self.model.weightOffsets[cut]
                    buckets.append([offset, Self.model.biasOffset(high) + Self.model.layers[high + 1] - offset])
                    high = cut - 1
                }
                best = min(best, Self.finish(buckets, backward: backward, cost: cost))
            }
            #expect(abs(plan.finish - best) < 1e-9, "planned \(plan.finish), best \(best)")
        }
    }

    @Test("fixed-size buckets hold whole tensors in backward order and cover the model")
    func fixedSize() {
        let buckets = BucketPlanner.fixed(Self.model, bytes: 8 << 10)
        #expect(Self.covers(buckets) && buckets.count > 1)
        #expect(BucketPlanner.fixed(Self.model, bytes: 1 << 30) == [[0, Self.model.parameterCount]])
    }
}
