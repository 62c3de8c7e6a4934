import Foundation

/// What `straits simulate` models: a model trained data-parallel by replicas in regions joined by
/// WAN links, under one synchronisation schedule (`docs/simulate.md` has every field).
public struct Scenario: Sendable, Equatable {
    public struct Model: Sendable, Equatable {
        public var parameters: Int
        /// Layers: DDP's gradient buckets (one per layer) during the backward pass.
        public var layers: Int
    }

    /// The compute of one inner step of one replica.
    public enum StepCompute: Sendable, Equatable {
        /// Declared outright.
        case time(seconds: Double)
        /// From the tokens one replica processes per step: 6 × parameters FLOPs per token on
        /// `devices` accelerators of `flops` peak each at `mfu`.
        case tokens(Int, device: String, flops: Double, devices: Int, mfu: Double)
    }

    public struct Region: Sendable, Equatable {
        public var name: String
        /// Data-parallel replicas of the model in this region.
        public var replicas: Int
    }

    /// A directed WAN link and the TCP streams that carry it.
    public struct Link: Sendable, Equatable {
        public var link: ClusterTopology.Link
        /// Parallel TCP streams: one stream reaches at most `windowBytes` per round trip.
        public var streams: Int
        public var windowBytes: Int
    }

    /// Between the replicas of a region, per replica.
    public struct Fabric: Sendable, Equatable {
        public var bitsPerSecond: Double
        public var latencySeconds: Double
    }

    public enum Sync: String, Sendable, CaseIterable {
        /// Gradients averaged over every replica every step.
        case ddp
        /// Gradients averaged inside each region every step; every `every` steps the
        /// parameters averaged across regions (training jobs' `hierarchical-local`).
        case hier
        /// As `hier`, with the regions' pseudo-gradients applied by an outer optimiser: the same
        /// traffic.
        case diloco
        /// DiLoCo whose parameters are synchronised in `fragments` parts in turn, each every
        /// `every` steps, spread evenly.
        case streamingDiloco = "streaming-diloco"
    }

    /// How values cross the WAN.
    public enum Compression: String, Sendable, CaseIterable {
        case none, bf16, fp16, fp8, int8, fp4

        /// Bytes per value on the wire (int8 and fp4 with one 4-byte scale per 256 values, as
        /// block-scaled formats carry).
        public var bytesPerValue: Double {
            switch self {
            case .none: 4
            case .bf16, .fp16: 2
            case .fp8: 1
            case .int8: 1 + 4.0 / 256
            case .fp4: 0.5 + 4.0 / 256
            }
        }
    }

    public struct Schedule: Sendable, Equatable {
        public var sync: Sync
        /// Inner steps between synchronisations across regions (1 for DDP).
        public var every: Int
        /// Streaming: parts of the parameters synchronised in turn.
        public var fragments: Int
        /// Inner steps a synchronisation across regions may run beside (0: the replicas wait).
        public var overlap: Int
        /// Whether gradients are reduced while the backward pass runs (2/3 of a step), bucket by
        /// bucket as each layer's gradient is ready.
        public var overlapBackward: Bool
        public var compression: Compression
    }

    public var name: String
    public var model: Model
    public var step: StepCompute
    public var regions: [Region]
    /// Directed links; a symmetric entry gives one each way.
    public var links: [Link]
    public var fabric: Fabric
    public var schedule: Schedule
    public var steps: Int

    /// Seconds of compute in one inner step of one replica.
    public var computeSeconds: Double {
        switch step {
        case .time(let seconds):
            seconds
        case .tokens(let tokens, _, let flops, let devices, let mfu):
            6 * Double(model.parameters) * Double(tokens) / (flops * Double(devices) * mfu)
        }
    }

    public var replicas: Int { regions.reduce(0) { $0 + $1.replicas } }

    /// This scenario with `change` made to every WAN link.
    public func changingLinks(_ change: (inout ClusterTopology.Link) -> Void) -> Scenario {
        var changed = self
        for index in changed.links.indices { change(&changed.links[index].link) }
        return changed
    }

    /// Accelerators in all (replicas × devices per replica; 1 per replica when the step is a time).
    public var accelerators: Int {
        if case .tokens(_, _, _, let devices, _) = step { return replicas * devices }
        return replicas
    }

    /// The slowest link or fabric a scenario may declare: slower, a large model's
    /// synchronisation would outlast what the simulation's nanosecond clock can count.
    public static let minimumBitsPerSecond = 1e6

    public static let fields = ["name", "model", "step", "regions", "links", "fabric", "schedule", "steps", "tokens"]

    /// Loads and checks a scenario file.
    public static func load(path: String) throws -> Scenario {
        try parse(try ConfigError.readFile(path, what: "scenario"), file: path)
    }

    /// Parses and checks scenario text; errors name `file`, line and field.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> Scenario {
        let root = try FieldReader(try YAMLParser.parse(text, file: file), file: file, path: "", known: fields)
        let name = try root.string("name")

        let modelFields = try FieldReader(
            try root.required("model"), file: file, path: "model", known: ["parameters", "layers"])
        let model = Model(
            parameters: try modelFields.count("parameters", minimum: 1, maximum: 10_000_000_000_000),
            layers: try modelFields.integer("layers", default: 32, minimum: 1, maximum: 100_000))

        let step = try readStep(try root.required("step"), file: file)

        let regions = try ClusterTopology.readRegions(root, file: file, known: ["name", "replicas"], name: \.name) {
            fields throws(ConfigError) in
            Region(
                name: try fields.string("name"), replicas: try fields.count("replicas", minimum: 1, maximum: 10_000_000)
            )
        }
        var links: [Link] = []
        for (link, fields) in try ClusterTopology.readLinks(
            root, regions: regions.map(\.name), file: file, extraFields: ["streams", "window"])
        {
            guard link.bitsPerSecond >= minimumBitsPerSecond else {
                throw ConfigError(
                    .invalidValue, file: file, line: fields.node("bandwidth")!.line, field: "\(fields.path).bandwidth",
                    message: "expected at least 1Mbps, got \(Units.formatRate(bitsPerSecond: link.bitsPerSecond))")
            }
            links.append(
                Link(
                    link: link, streams: try fields.integer("streams", default: 1, minimum: 1, maximum: 4096),
                    windowBytes: try fields.bytes("window", default: 16 << 20, minimum: 1024, maximum: 1 << 40)))
        }

        var fabric = Fabric(bitsPerSecond: 400e9, latencySeconds: 5e-6)
        if let node = root.node("fabric") {
            let fields = try FieldReader(node, file: file, path: "fabric", known: ["bandwidth", "latency"])
            if fields.contains("bandwidth") {
                fabric.bitsPerSecond = try fields.bitsPerSecond("bandwidth", allowUnlimited: false)!
                guard fabric.bitsPerSecond >= minimumBitsPerSecond else {
                    throw ConfigError(
                        .invalidValue, file: file, line: fields.node("bandwidth")!.line, field: "fabric.bandwidth",
                        message: "expected at least 1Mbps, got \(Units.formatRate(bitsPerSecond: fabric.bitsPerSecond))"
                    )
                }
            }
            fabric.latencySeconds = try fields.seconds("latency", default: fabric.latencySeconds)
        }

        let schedule = try readSchedule(root.node("schedule"), file: file)

        if root.contains("steps") && root.contains("tokens") {
            throw ConfigError(
                .invalidValue, file: file, line: root.node("tokens")!.line, field: "tokens",
                message: "give steps or tokens, not both")
        }
        var steps = try root.integer("steps", default: 1000, minimum: 1, maximum: 1_000_000_000)
        if root.contains("tokens") {
            let tokens = try root.count("tokens", minimum: 1)
            guard case .tokens(let perStep, _, _, _, _) = step else {
                throw ConfigError(
                    .invalidValue, file: file, line: root.node("tokens")!.line, field: "tokens",
                    message: "tokens needs step.tokens (tokens per replica per step); with step.time give steps")
            }
            let perRun = perStep * regions.reduce(0) { $0 + $1.replicas }
            steps = max(1, Int((Double(tokens) / Double(perRun)).rounded(.up)))
        }
        return Scenario(
            name: name, model: model, step: step, regions: regions, links: links, fabric: fabric,
            schedule: schedule, steps: steps)
    }

    private static func readStep(_ node: YAMLNode, file: String) throws(ConfigError) -> StepCompute {
        let fields = try FieldReader(
            node, file: file, path: "step", known: ["time", "tokens", "device", "tflops", "devices", "mfu"])
        if fields.contains("time") {
            for other in ["tokens", "device", "tflops", "devices", "mfu"] where fields.contains(other) {
                throw ConfigError(
                    .invalidValue, file: file, line: fields.node(other)!.line, field: "step.\(other)",
                    message: "step gives either time, or tokens with a device (or tflops), devices and mfu; not both")
            }
            let seconds = try fields.seconds("time")
            guard seconds > 0 else {
                throw ConfigError(
                    .invalidValue, file: file, line: fields.node("time")!.line, field: "step.time",
                    message: "expected a time above 0")
            }
            return .time(seconds: seconds)
        }
        let tokens = try fields.count("tokens", minimum: 1)
        var device = try fields.string("device", default: "h100")
        var flops: Double
        if fields.contains("tflops") {
            if fields.contains("device") {
                throw ConfigError(
                    .invalidValue, file: file, line: fields.node("tflops")!.line, field: "step.tflops",
                    message: "give a device or tflops, not both")
            }
            flops = try fields.number("tflops", minimum: 0, maximum: 1e9, above: true) * 1e12
            device = "\(Units.plain(flops / 1e12)) TFLOP/s"
        } else {
            let known = TrainingSpec.Compute.devices.keys.sorted()
            guard let peak = TrainingSpec.Compute.devices[device] else {
                throw ConfigError(
                    .invalidValue, file: file, line: fields.node("device")!.line, field: "step.device",
                    message: "expected one of \(known.joined(separator: ", ")) (or tflops: N), got \"\(device)\"")
            }
            flops = peak
        }
        return .tokens(
            tokens, device: device, flops: flops,
            devices: try fields.integer("devices", default: 8, minimum: 1, maximum: 1_000_000),
            mfu: try fields.number("mfu", default: 0.4, minimum: 0, maximum: 1, above: true))
    }

    private static func readSchedule(_ node: YAMLNode?, file: String) throws(ConfigError) -> Schedule {
        guard let node else {
            return Schedule(sync: .ddp, every: 1, fragments: 1, overlap: 0, overlapBackward: true, compression: .none)
        }
        let fields = try FieldReader(
            node, file: file, path: "schedule",
            known: ["sync", "every", "fragments", "overlap", "overlap_backward", "compression"])
        let syncs = Sync.allCases.map(\.rawValue)
        var syncText = try fields.string("sync", default: "ddp")
        if syncText == "hierarchical-local" { syncText = Sync.hier.rawValue }
        guard let sync = Sync(rawValue: syncText) else {
            throw ConfigError(
                .invalidValue, file: file, line: fields.node("sync")!.line, field: "schedule.sync",
                message: "expected one of \(syncs.joined(separator: ", ")), got \"\(syncText)\"")
        }
        let every = try fields.integer("every", default: sync == .ddp ? 1 : 100, minimum: 1, maximum: 1_000_000)
        if sync == .ddp && every != 1 {
            throw ConfigError(
                .invalidValue, file: file, line: fields.node("every")!.line, field: "schedule.every",
                message: "ddp synchronises every step; every applies to hier, diloco and streaming-diloco")
        }
        let fragments = try fields.integer("fragments", default: 1, minimum: 1, maximum: 100_000)
        if fragments > 1 && sync != .streamingDiloco {
            throw ConfigError(
                .invalidValue, file: file, line: fields.node("fragments")!.line, field: "schedule.fragments",
                message: "only streaming-diloco synchronises fragments; \(sync.rawValue) synchronises them all at once")
        }
        let compression = try fields.choice(
            "compression", of: Compression.allCases.map(\.rawValue), default: "none")
        return Schedule(
            sync: sync, every: every, fragments: fragments,
            overlap: try fields.integer("overlap", default: 0, minimum: 0, maximum: 1_000_000),
            overlapBackward: try fields.boolean("overlap_backward", default: true),
            compression: Compression(rawValue: compression)!)
    }
}
