import Foundation

/// What a `kind: train` job trains and how: the model, its data, the optimiser, how compute
/// time is taken, and one or more synchronisation schedules run one after another on the same
/// model and data so that they can be compared side by side.
public struct TrainingSpec: Sendable, Equatable {
    /// A multilayer perceptron: widths from input to output (ReLU between layers).
    public struct Model: Sendable, Equatable {
        public let layers: [Int]

        /// float32 parameters: every layer's weights and biases.
        public var parameterCount: Int {
            zip(layers, layers.dropFirst()).reduce(0) { $0 + $1.0 * $1.1 + $1.1 }
        }

        /// The hidden width that gives about `parameters` parameters for `depth` weight layers.
        public static func width(parameters: Int, input: Int, output: Int, depth: Int) -> Int {
            // (depth−2)·w² + (input + output + depth − 1)·w + output = parameters
            let a = Double(depth - 2)
            let b = Double(input + output + depth - 1)
            let c = Double(output - parameters)
            let w = a == 0 ? -c / b : (-b + (b * b - 4 * a * c).squareRoot()) / (2 * a)
            return max(1, Int(w.rounded()))
        }
    }

    /// The synthetic task: inputs x ~ N(0, 1); labels from a fixed random teacher network
    /// (tanh hidden layer), plus optional label noise. Each rank draws its own shard.
    public struct Data: Sendable, Equatable {
        public let seed: UInt64
        /// Samples per device per step.
        public let batch: Int
        /// Samples in each device's shard; batches cycle through it.
        public let shard: Int
        public let teacherHidden: Int
        public let noise: Double
    }

    public struct Optimizer: Sendable, Equatable {
        public enum Name: String, Sendable { case sgd, adamw }
        public let name: Name
        public let learningRate: Double
        /// SGD momentum.
        public let momentum: Double
        public let beta1: Double
        public let beta2: Double
        public let epsilon: Double
        public let weightDecay: Double
    }

    /// How long a step's compute takes: the time the real maths takes here, or a time derived
    /// from the step's FLOPs on a declared accelerator, times `scale`.
    public struct Compute: Sendable, Equatable {
        public let synthetic: Bool
        public let device: String
        /// Peak FLOP/s of the declared device.
        public let peakFlops: Double
        /// Model FLOP utilisation assumed on it.
        public let mfu: Double
        /// Emulated time = FLOPs / (peak × mfu) × scale.
        public let scale: Double

        /// Emulated seconds for `flops`.
        public func seconds(flops: Double) -> Double { flops / (peakFlops * mfu) * scale }

        public static let devices: [String: Double] = [
            "h100": 989e12, "h200": 989e12, "b200": 2250e12, "a100": 312e12, "mi300x": 1307e12, "tpu-v5p": 459e12,
        ]
    }

    /// One synchronisation schedule.
    public struct Schedule: Sendable, Equatable {
        public enum Sync: String, Sendable, CaseIterable {
            /// Gradients all-reduced across every rank every step.
            case ddp
            /// Gradients all-reduced inside each region every step; every `every` steps the
            /// parameters are averaged across regions.
            case hierarchicalLocal = "hierarchical-local"
            /// Inside each region as above with the inner optimiser; every `every` steps the
            /// regions' pseudo-gradients are averaged and applied by an outer Nesterov step.
            case diloco
        }
        public enum Compression: String, Sendable, CaseIterable { case none, fp16, bf16, int8 }

        public let name: String
        public let sync: Sync
        public let every: Int
        public let outerLearningRate: Double
        public let outerMomentum: Double
        public let compression: Compression
        public let steps: Int
    }

    public let model: Model
    public let data: Data
    public let optimizer: Optimizer
    public let compute: Compute
    public let schedules: [Schedule]
    /// Gradient bucket size (buckets are filled with whole tensors in backward order); nil
    /// (`bucket: auto`): the coordinator groups layers into the buckets its model says finish
    /// soonest, from each layer's compute time and the measured links.
    public let bucketBytes: Int?
    /// The loss a run counts as reached; nil: the first schedule's final loss.
    public let targetLoss: Double?
    /// Steps averaged for the final loss and the target check.
    public let lossWindow: Int

    static func parse(_ root: FieldReader, steps: Int, file: String) throws(ConfigError) -> TrainingSpec {
        let model = try parseModel(
            FieldReader(
                try root.required("model"), file: file, path: "model",
                known: ["layers", "input", "output", "depth", "parameters"]))
        let dataReader =
            try root.contains("data")
            ? FieldReader(
                try root.required("data"), file: file, path: "data",
                known: ["seed", "batch", "shard", "teacher_hidden", "noise"])
            : nil
        let batch = try dataReader?.integer("batch", default: 32, minimum: 1, maximum: 1 << 16) ?? 32
        let data = Data(
            seed: UInt64(try dataReader?.integer("seed", default: 1, minimum: 0) ?? 1),
            batch: batch,
            shard: try dataReader?.integer("shard", default: 4096, minimum: batch, maximum: 1 << 24) ?? 4096,
            teacherHidden: try dataReader?.integer("teacher_hidden", default: 32, minimum: 1, maximum: 1 << 14) ?? 32,
            noise: try dataReader?.number("noise", default: 0) ?? 0)

        let optimizerReader =
            try root.contains("optimizer")
            ? FieldReader(
                try root.required("optimizer"), file: file, path: "optimizer",
                known: ["name", "lr", "momentum", "beta1", "beta2", "eps", "weight_decay"])
            : nil
        let optimizerName = Optimizer.Name(
            rawValue: try optimizerReader?.choice("name", of: ["sgd", "adamw"], default: "adamw") ?? "adamw")!
        let optimizer = Optimizer(
            name: optimizerName,
            learningRate: try positive(optimizerReader, "lr", default: optimizerName == .adamw ? 1e-3 : 0.05),
            momentum: try fraction(optimizerReader, "momentum", default: 0),
            beta1: try fraction(optimizerReader, "beta1", default: 0.9),
            beta2: try fraction(optimizerReader, "beta2", default: 0.999),
            epsilon: try positive(optimizerReader, "eps", default: 1e-8),
            weightDecay: try optimizerReader?.number("weight_decay", default: 0) ?? 0)

        let compute: Compute
        if let node = root.node("compute") {
            let reader = try FieldReader(
                node, file: file, path: "compute", known: ["mode", "device", "tflops", "mfu", "scale"])
            let device = try reader.choice("device", of: Compute.devices.keys.sorted(), default: "h100")
            compute = Compute(
                synthetic: try reader.choice("mode", of: ["real", "synthetic"], default: "synthetic") == "synthetic",
                device: reader.contains("tflops") ? "custom" : device,
                peakFlops: reader.contains("tflops")
                    ? try positive(reader, "tflops", default: 1) * 1e12 : Compute.devices[device]!,
                mfu: try utilisation(reader, "mfu", default: 0.4),
                scale: try positive(reader, "scale", default: 1))
        } else {
            compute = Compute(synthetic: false, device: "this machine", peakFlops: 1, mfu: 1, scale: 1)
        }

        var schedules: [Schedule] = []
        for (node, path) in try root.list("schedules") {
            let reader = try FieldReader(
                node, file: file, path: path,
                known: ["name", "sync", "every", "outer_lr", "outer_momentum", "compression", "steps"])
            let sync = Schedule.Sync(
                rawValue: try reader.choice("sync", of: Schedule.Sync.allCases.map(\.rawValue), default: "ddp"))!
            let schedule = Schedule(
                name: try reader.string("name", default: sync.rawValue),
                sync: sync,
                every: try reader.integer("every", default: sync == .ddp ? 1 : 20, minimum: 1, maximum: 1_000_000),
                outerLearningRate: try positive(reader, "outer_lr", default: sync == .diloco ? 0.7 : 1),
                outerMomentum: try fraction(reader, "outer_momentum", default: sync == .diloco ? 0.9 : 0),
                compression: Schedule.Compression(
                    rawValue: try reader.choice(
                        "compression", of: Schedule.Compression.allCases.map(\.rawValue), default: "none"))!,
                steps: try reader.integer("steps", default: steps, minimum: 1, maximum: 1_000_000))
            if schedules.contains(where: { $0.name == schedule.name }) {
                throw ConfigError(
                    .invalidValue, file: file, line: node.line, field: reader.fieldPath("name"),
                    message: "schedule name \"\(schedule.name)\" is used twice; give each schedule its own name")
            }
            schedules.append(schedule)
        }
        guard !schedules.isEmpty else {
            throw ConfigError(
                .missingField, file: file, line: root.node("schedules")?.line ?? root.line, field: "schedules",
                message: "expected at least one schedule, for example - { sync: ddp }")
        }
        return TrainingSpec(
            model: model, data: data, optimizer: optimizer, compute: compute, schedules: schedules,
            bucketBytes: root.node("bucket").map { if case .scalar("auto", _) = $0 { true } else { false } } ?? true
                ? nil : try root.bytes("bucket"),
            targetLoss: root.contains("target_loss") ? try positive(root, "target_loss", default: 1) : nil,
            lossWindow: try root.integer("loss_window", default: 20, minimum: 1, maximum: 100_000))
    }

    private static func parseModel(_ reader: FieldReader) throws(ConfigError) -> Model {
        let layers: [Int]
        if reader.contains("layers") {
            var widths: [Int] = []
            for (node, path) in try reader.list("layers") {
                guard case .scalar(let text, _) = node, let width = Int(text), width >= 1, width <= 1 << 16 else {
                    throw ConfigError(
                        .invalidValue, file: reader.file, line: node.line, field: path,
                        message: "expected a layer width from 1 to 65536, got \(node.kindDescription)")
                }
                widths.append(width)
            }
            guard widths.count >= 2 else {
                throw ConfigError(
                    .invalidValue, file: reader.file, line: reader.node("layers")!.line,
                    field: reader.fieldPath("layers"),
                    message: "expected at least two widths (input and output), got \(widths.count)")
            }
            layers = widths
        } else {
            let input = try reader.integer("input", default: 64, minimum: 1, maximum: 1 << 16)
            let output = try reader.integer("output", default: 16, minimum: 1, maximum: 1 << 16)
            let depth = try reader.integer("depth", default: 3, minimum: 2, maximum: 64)
            guard case .scalar(let text, _)? = reader.node("parameters"), let parameters = Units.count(text),
                parameters > 0
            else {
                throw reader.error(
                    "parameters",
                    "expected a parameter count like 1M or 500K (or give layers: [input, …, output]), got \(reader.node("parameters")?.kindDescription ?? "nothing")"
                )
            }
            let width = Model.width(parameters: parameters, input: input, output: output, depth: depth)
            layers = [input] + Array(repeating: width, count: depth - 1) + [output]
        }
        let model = Model(layers: layers)
        guard model.parameterCount <= 256 << 20 else {
            throw ConfigError(
                .unsupported, file: reader.file, line: reader.line, field: reader.path,
                message:
                    "the model has \(model.parameterCount) parameters; at most \(256 << 20) (1 GiB of float32) fit a step's buffers"
            )
        }
        return model
    }

    private static func positive(_ reader: FieldReader?, _ key: String, default fallback: Double) throws(ConfigError)
        -> Double
    {
        guard let reader else { return fallback }
        let value = try reader.number(key, default: fallback)
        guard value > 0 else { throw reader.error(key, "expected a number above 0, got \(value)") }
        return value
    }

    /// A share of peak, above 0 and at most 1 (a zero would make every step take forever).
    private static func utilisation(_ reader: FieldReader, _ key: String, default fallback: Double) throws(ConfigError)
        -> Double
    {
        let value = try reader.number(key, default: fallback)
        guard value > 0 && value <= 1 else {
            throw reader.error(key, "expected a number above 0 and at most 1, got \(value)")
        }
        return value
    }

    private static func fraction(_ reader: FieldReader?, _ key: String, default fallback: Double) throws(ConfigError)
        -> Double
    {
        guard let reader else { return fallback }
        let value = try reader.number(key, default: fallback)
        guard value >= 0 && value < 1 else {
            throw reader.error(key, "expected a number from 0 up to (not including) 1, got \(value)")
        }
        return value
    }
}
