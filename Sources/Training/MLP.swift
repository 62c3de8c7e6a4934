import Emulation
import Foundation

/// A multilayer perceptron with ReLU between layers and a linear output, trained on mean squared
/// error. Parameters live in one flat float32 vector, layer by layer in forward order (weights
/// `in × out` row-major, then biases), so that a gradient bucket is a contiguous range and the
/// backward pass finishes ranges from the end of the vector towards its start.
public struct MLP: Sendable, Equatable {
    public let layers: [Int]
    public let parameterCount: Int
    /// Where layer `l`'s weights start in the flat vector; its biases follow them.
    public let weightOffsets: [Int]

    public init(layers: [Int]) {
        precondition(
            layers.count >= 2 && layers.allSatisfy { $0 > 0 }, "an MLP needs two or more positive widths, got \(layers)"
        )
        self.layers = layers
        var offsets: [Int] = []
        var offset = 0
        for l in 0..<(layers.count - 1) {
            offsets.append(offset)
            offset += layers[l] * layers[l + 1] + layers[l + 1]
        }
        weightOffsets = offsets
        parameterCount = offset
    }

    public var depth: Int { layers.count - 1 }
    public var inputWidth: Int { layers[0] }
    public var outputWidth: Int { layers[depth] }

    public func biasOffset(_ l: Int) -> Int { weightOffsets[l] + layers[l] * layers[l + 1] }

    /// The parameter ranges (offset, count) of the tensors, in backward order: the last layer's
    /// bias first, the first layer's weights last.
    public var tensorsInBackwardOrder: [(offset: Int, count: Int)] {
        var tensors: [(offset: Int, count: Int)] = []
        for l in (0..<depth).reversed() {
            tensors.append((offset: biasOffset(l), count: layers[l + 1]))
            tensors.append((offset: weightOffsets[l], count: layers[l] * layers[l + 1]))
        }
        return tensors
    }

    /// FLOPs of one step on `batch` samples: forward 2·in·out per sample and layer; backward
    /// twice that, less the input gradient of the first layer, which is not computed.
    public func flops(batch: Int) -> (forward: Double, backward: [Double]) {
        var forward = 0.0
        var backward: [Double] = []
        for l in 0..<depth {
            let product = 2 * Double(batch) * Double(layers[l] * layers[l + 1])
            forward += product
            backward.append(l == 0 ? product : 2 * product)
        }
        return (forward, backward)
    }

    /// He-initialised weights (normal, variance 2/fan-in; 1/fan-in for the linear output) and
    /// zero biases, the same on every rank for the same seed.
    public func initialise(_ parameters: UnsafeMutablePointer<Float>, seed: UInt64) {
        var random = GaussianSource(seed: seed)
        for l in 0..<depth {
            let scale = Float((l == depth - 1 ? 1.0 : 2.0) / Double(layers[l])).squareRoot()
            let weights = parameters + weightOffsets[l]
            for i in 0..<(layers[l] * layers[l + 1]) { weights[i] = scale * random.next() }
            (parameters + biasOffset(l)).update(repeating: 0, count: layers[l + 1])
        }
    }

    /// Runs the forward pass of `batch` rows of `input` and leaves each layer's activations in
    /// `workspace`; returns the output activations (`batch × outputWidth`).
    @discardableResult
    public func forward(
        _ parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, batch: Int,
        workspace: MLPWorkspace
    ) -> UnsafeMutablePointer<Float> {
        precondition(batch <= workspace.batch, "batch \(batch) exceeds the workspace's \(workspace.batch)")
        var a = input
        for l in 0..<depth {
            let out = workspace.activations[l + 1]
            let width = layers[l + 1]
            let bias = parameters + biasOffset(l)
            for row in 0..<batch { (out + row * width).update(from: bias, count: width) }
            BLAS.gemm(a, parameters + weightOffsets[l], into: out, m: batch, n: width, k: layers[l], beta: 1)
            if l < depth - 1 {
                for i in 0..<(batch * width) where out[i] < 0 { out[i] = 0 }
            }
            a = UnsafePointer(out)
        }
        return workspace.activations[depth]
    }

    /// Mean squared error over `batch × outputWidth` values, without gradients.
    public func loss(
        _ parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, target: UnsafePointer<Float>,
        batch: Int, workspace: MLPWorkspace
    ) -> Double {
        let output = forward(parameters, input: input, batch: batch, workspace: workspace)
        var sum = 0.0
        for i in 0..<(batch * outputWidth) {
            let d = Double(output[i] - target[i])
            sum += d * d
        }
        return sum / Double(batch * outputWidth)
    }

    /// Forward and backward: writes the gradient of the mean squared error into `gradients`
    /// (the whole flat vector) and returns the loss. `layerDone(l)` is called as soon as layer
    /// `l`'s weight and bias gradients are final, last layer first, so buckets can leave early.
    public func lossAndGradients(
        _ parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>, target: UnsafePointer<Float>, batch: Int, workspace: MLPWorkspace,
        forwardDone: () -> Void = {}, layerDone: (Int) -> Void = { _ in }
    ) -> Double {
        let output = forward(parameters, input: input, batch: batch, workspace: workspace)
        forwardDone()
        let outputs = batch * outputWidth
        var delta = workspace.deltas[depth]
        var sum = 0.0
        let scale = Float(2) / Float(outputs)
        for i in 0..<outputs {
            let d = output[i] - target[i]
            sum += Double(d) * Double(d)
            delta[i] = scale * d
        }
        for l in (0..<depth).reversed() {
            let fanIn = layers[l]
            let fanOut = layers[l + 1]
            let a = l == 0 ? input : UnsafePointer(workspace.activations[l])
            // dW = aᵀ·δ, db = Σ_rows δ
            BLAS.gemm(a, transposeA: true, delta, into: gradients + weightOffsets[l], m: fanIn, n: fanOut, k: batch)
            let bias = gradients + biasOffset(l)
            bias.update(repeating: 0, count: fanOut)
            for row in 0..<batch {
                let source = delta + row * fanOut
                for j in 0..<fanOut { bias[j] += source[j] }
            }
            if l > 0 {
                // δ_prev = δ·Wᵀ ⊙ relu′(a)
                let previous = workspace.deltas[l]
                BLAS.gemm(
                    delta, parameters + weightOffsets[l], transposeB: true, into: previous, m: batch, n: fanIn,
                    k: fanOut)
                let activation = workspace.activations[l]
                for i in 0..<(batch * fanIn) where activation[i] <= 0 { previous[i] = 0 }
                delta = previous
            }
            layerDone(l)
        }
        return sum / Double(outputs)
    }
}

/// Activation and delta buffers for up to `batch` rows of an MLP.
public final class MLPWorkspace: @unchecked Sendable {
    // Unchecked Sendable: used by one thread at a time (the device that owns it).
    public let batch: Int
    /// activations[l]: layer l's output (index 0 unused: the input is the caller's).
    let activations: [UnsafeMutablePointer<Float>]
    let deltas: [UnsafeMutablePointer<Float>]

    public init(model: MLP, batch: Int) {
        self.batch = batch
        activations = model.layers.map { UnsafeMutablePointer<Float>.allocate(capacity: max(1, batch * $0)) }
        deltas = model.layers.map { UnsafeMutablePointer<Float>.allocate(capacity: max(1, batch * $0)) }
    }

    deinit {
        for buffer in activations + deltas { buffer.deallocate() }
    }
}

/// Standard normal samples from a seeded SplitMix64 (Box–Muller).
public struct GaussianSource: Sendable {
    private var random: SplitMix64
    private var spare: Float?

    public init(seed: UInt64) {
        random = SplitMix64(seed: seed)
    }

    public mutating func next() -> Float {
        if let spare {
            self.spare = nil
            return spare
        }
        let u = max(random.nextUnit(), 1e-300)
        let v = random.nextUnit()
        let r = (-2 * log(u)).squareRoot()
        spare = Float(r * sin(2 * .pi * v))
        return Float(r * cos(2 * .pi * v))
    }
}
