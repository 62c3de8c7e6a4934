import Emulation
import Foundation

/// A learnable regression task that needs no dataset: inputs x ~ N(0, I), labels from a fixed
/// random teacher network `tanh(x·W₁)·W₂` (seeded), plus optional Gaussian label noise.
///
/// Rank r's shard is samples 0..<shard of its own stream; step s takes `batch` consecutive
/// samples from it, wrapping around. Any process can rebuild any rank's batch, which is what
/// lets one process train on the union of the shards and check the cluster against it.
public struct SyntheticTask: Sendable {
    public let inputWidth: Int
    public let outputWidth: Int
    public let hidden: Int
    public let seed: UInt64
    public let batch: Int
    public let shard: Int
    public let noise: Float
    private let w1: [Float]
    private let w2: [Float]

    public init(inputWidth: Int, outputWidth: Int, hidden: Int, seed: UInt64, batch: Int, shard: Int, noise: Double = 0)
    {
        self.inputWidth = inputWidth
        self.outputWidth = outputWidth
        self.hidden = hidden
        self.seed = seed
        self.batch = batch
        self.shard = shard
        self.noise = Float(noise)
        var random = GaussianSource(seed: Self.mix(seed, 0xFEED, 0))
        let s1 = Float(1 / Double(inputWidth)).squareRoot()
        // tanh of a unit normal has variance ≈ 0.394: scale W₂ so that labels have variance ≈ 1.
        let s2 = Float(1 / (0.394 * Double(hidden))).squareRoot()
        w1 = (0..<(inputWidth * hidden)).map { _ in s1 * random.next() }
        w2 = (0..<(hidden * outputWidth)).map { _ in s2 * random.next() }
    }

    /// Fills `input` (`batch × inputWidth`) and `target` (`batch × outputWidth`) with rank
    /// `rank`'s batch for step `step`.
    public func fill(rank: Int, step: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        for row in 0..<batch {
            let index = (step * batch + row) % shard
            var random = GaussianSource(seed: Self.mix(seed, UInt64(rank) + 1, UInt64(index)))
            let x = input + row * inputWidth
            for i in 0..<inputWidth { x[i] = random.next() }
            if noise > 0 {
                let t = target + row * outputWidth
                for j in 0..<outputWidth { t[j] = noise * random.next() }
            }
        }
        let hiddenValues = UnsafeMutablePointer<Float>.allocate(capacity: batch * hidden)
        defer { hiddenValues.deallocate() }
        w1.withUnsafeBufferPointer {
            BLAS.gemm(input, $0.baseAddress!, into: hiddenValues, m: batch, n: hidden, k: inputWidth)
        }
        for i in 0..<(batch * hidden) { hiddenValues[i] = tanhf(hiddenValues[i]) }
        w2.withUnsafeBufferPointer {
            BLAS.gemm(
                hiddenValues, $0.baseAddress!, into: target, m: batch, n: outputWidth, k: hidden,
                beta: noise > 0 ? 1 : 0)
        }
    }

    static func mix(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        var random = SplitMix64(seed: a ^ (b &* 0x9E37_79B9_7F4A_7C15) ^ (c &* 0xC2B2_AE3D_27D4_EB4F))
        return random.next()
    }
}
