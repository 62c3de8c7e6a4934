import Config

/// One device's copy of the model and everything it updates: parameters, the inner optimiser,
/// and for schedules that synchronise across regions only every H steps, the last global
/// parameters and the outer optimiser. Gradients live outside (in the buffer the all-reduce
/// works on).
public final class Replica: @unchecked Sendable {
    // Unchecked Sendable: owned by one device thread at a time.
    public let model: MLP
    public let task: SyntheticTask
    public let spec: TrainingSpec
    public let schedule: TrainingSpec.Schedule
    public let parameters: UnsafeMutablePointer<Float>
    /// θ_global at the last outer synchronisation (schedules other than ddp).
    public let global: UnsafeMutablePointer<Float>?
    public let inner: InnerOptimizer
    public let outer: OuterOptimizer?
    public let workspace: MLPWorkspace
    public let input: UnsafeMutablePointer<Float>
    public let target: UnsafeMutablePointer<Float>

    /// A fresh replica for `schedule`: every replica of every schedule starts from the same
    /// parameters (the data seed picks them), so schedules are compared on equal terms.
    public init(spec: TrainingSpec, schedule: TrainingSpec.Schedule, batchRows: Int? = nil) {
        self.spec = spec
        self.schedule = schedule
        model = MLP(layers: spec.model.layers)
        let rows = batchRows ?? spec.data.batch
        task = Self.task(spec)
        let count = model.parameterCount
        parameters = .allocate(capacity: count)
        model.initialise(parameters, seed: spec.data.seed &+ 0x5EED)
        if schedule.sync != .ddp {
            global = .allocate(capacity: count)
            global!.update(from: parameters, count: count)
            outer = OuterOptimizer(
                learningRate: schedule.outerLearningRate, momentum: schedule.outerMomentum, count: count)
        } else {
            global = nil
            outer = nil
        }
        inner = InnerOptimizer(spec: spec.optimizer, count: count)
        workspace = MLPWorkspace(model: model, batch: rows)
        input = .allocate(capacity: rows * model.inputWidth)
        target = .allocate(capacity: rows * model.outputWidth)
    }

    deinit {
        for buffer in [parameters, global, input, target].compactMap({ $0 }) { buffer.deallocate() }
    }

    public static func task(_ spec: TrainingSpec) -> SyntheticTask {
        SyntheticTask(
            inputWidth: spec.model.layers.first!, outputWidth: spec.model.layers.last!, hidden: spec.data.teacherHidden,
            seed: spec.data.seed, batch: spec.data.batch, shard: spec.data.shard, noise: spec.data.noise)
    }

    /// Writes the pseudo-gradient Δ = θ_global − θ into `delta`.
    public func pseudoGradient(into delta: UnsafeMutablePointer<Float>) {
        guard let global else { return }
        for i in 0..<model.parameterCount { delta[i] = global[i] - parameters[i] }
    }

    /// Applies the averaged pseudo-gradient with the outer optimiser; every replica then starts
    /// its next H inner steps from the new global parameters.
    public func applyOuter(_ delta: UnsafePointer<Float>) {
        guard let global, let outer else { return }
        outer.step(global, pseudoGradient: delta)
        parameters.update(from: global, count: model.parameterCount)
    }
}

/// The reference: one process training on the union of every rank's shard, each step on the
/// concatenation of all ranks' batches. Data-parallel training must end where this ends.
public final class ReferenceTrainer {
    public let replica: Replica
    public let ranks: Int
    private let gradients: UnsafeMutablePointer<Float>

    public init(spec: TrainingSpec, ranks: Int) {
        self.ranks = ranks
        replica = Replica(spec: spec, schedule: spec.schedules[0], batchRows: spec.data.batch * ranks)
        gradients = .allocate(capacity: replica.model.parameterCount)
    }

    deinit { gradients.deallocate() }

    /// Runs `steps` steps; returns each step's loss.
    public func train(steps: Int) -> [Double] {
        let model = replica.model
        let batch = replica.task.batch
        var losses: [Double] = []
        for step in 0..<steps {
            for rank in 0..<ranks {
                replica.task.fill(
                    rank: rank, step: step, input: replica.input + rank * batch * model.inputWidth,
                    target: replica.target + rank * batch * model.outputWidth)
            }
            losses.append(
                model.lossAndGradients(
                    replica.parameters, gradients: gradients, input: replica.input,
                    target: replica.target, batch: batch * ranks, workspace: replica.workspace))
            replica.inner.step(replica.parameters, gradients: gradients)
        }
        return losses
    }

    public var parameters: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: replica.parameters, count: replica.model.parameterCount)
    }
}
