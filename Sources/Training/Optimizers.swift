import Config
import Foundation

/// The inner optimiser of a replica: SGD (with momentum) or AdamW, over the flat parameter
/// vector. State is float32, one or two vectors the size of the model.
public final class InnerOptimizer: @unchecked Sendable {
    // Unchecked Sendable: owned by one device thread.
    public let spec: TrainingSpec.Optimizer
    public let count: Int
    let first: UnsafeMutablePointer<Float>?
    let second: UnsafeMutablePointer<Float>?
    public internal(set) var steps = 0

    public init(spec: TrainingSpec.Optimizer, count: Int) {
        self.spec = spec
        self.count = count
        let needsFirst = spec.name == .adamw || spec.momentum > 0
        first = needsFirst ? .allocate(capacity: count) : nil
        second = spec.name == .adamw ? .allocate(capacity: count) : nil
        reset()
    }

    deinit {
        first?.deallocate()
        second?.deallocate()
    }

    public func reset() {
        first?.update(repeating: 0, count: count)
        second?.update(repeating: 0, count: count)
        steps = 0
    }

    /// One update of `parameters` with `gradients` (both `count` long).
    public func step(_ parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>) {
        steps += 1
        let lr = Float(spec.learningRate)
        let decay = Float(spec.weightDecay)
        switch spec.name {
        case .sgd:
            if let velocity = first {
                let mu = Float(spec.momentum)
                for i in 0..<count {
                    let g = gradients[i] + decay * parameters[i]
                    velocity[i] = mu * velocity[i] + g
                    parameters[i] -= lr * velocity[i]
                }
            } else {
                for i in 0..<count { parameters[i] -= lr * (gradients[i] + decay * parameters[i]) }
            }
        case .adamw:
            let m = first!
            let v = second!
            let b1 = Float(spec.beta1)
            let b2 = Float(spec.beta2)
            let eps = Float(spec.epsilon)
            let correction1 = 1 - Float(pow(spec.beta1, Double(steps)))
            let correction2 = 1 - Float(pow(spec.beta2, Double(steps)))
            let stepSize = lr / correction1
            let root2 = correction2.squareRoot()
            for i in 0..<count {
                let g = gradients[i]
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                parameters[i] -= lr * decay * parameters[i]
                parameters[i] -= stepSize * m[i] / (v[i].squareRoot() / root2 + eps)
            }
        }
    }
}

/// DiLoCo's outer optimiser: SGD with Nesterov momentum on the averaged pseudo-gradient
/// Δ = θ_global − mean(θ_local). With learning rate 1 and no momentum it is parameter
/// averaging: θ_global becomes the mean of the replicas.
public final class OuterOptimizer: @unchecked Sendable {
    // Unchecked Sendable: owned by one device thread.
    public let learningRate: Float
    public let momentum: Float
    public let count: Int
    let velocity: UnsafeMutablePointer<Float>

    public init(learningRate: Double, momentum: Double, count: Int) {
        self.learningRate = Float(learningRate)
        self.momentum = Float(momentum)
        self.count = count
        velocity = .allocate(capacity: count)
        velocity.update(repeating: 0, count: count)
    }

    deinit { velocity.deallocate() }

    /// θ_global ← θ_global − lr·(Δ + μ·v), with v ← μ·v + Δ.
    public func step(_ global: UnsafeMutablePointer<Float>, pseudoGradient delta: UnsafePointer<Float>) {
        if momentum == 0 {
            for i in 0..<count { global[i] -= learningRate * delta[i] }
            return
        }
        for i in 0..<count {
            velocity[i] = momentum * velocity[i] + delta[i]
            global[i] -= learningRate * (delta[i] + momentum * velocity[i])
        }
    }
}
