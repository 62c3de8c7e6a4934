import Foundation
import StraitsWire

/// What a cluster runs, as a job file declares it.
///
/// `kind: sync` runs `steps` steps, each an emulated compute phase of `compute` followed by an
/// all-reduce of a `gradient`-sized buffer (checked exactly every step); `kind: bench` runs the
/// all-reduce benchmark over the cluster at sizes `min_bytes` … `max_bytes`; `kind: train` trains
/// a model data-parallel under one or more synchronisation schedules (`training`).
public struct JobSpec: Sendable, Equatable {
    public enum Kind: String, Sendable { case sync, bench, train }

    public let name: String
    public let kind: Kind
    public let steps: Int
    public let gradientBytes: Int
    public let computeSeconds: Double
    public let samplesPerStep: Int
    /// `auto`, `ring` (flat across every rank) or `hier` (numa → host → region → wan).
    public let algorithm: ClusterAlgorithm
    public let minBytes: Int
    public let maxBytes: Int
    public let stepFactor: Int
    public let iterations: Int
    public let warmupIterations: Int
    /// Deadline for any one collective, seconds.
    public let timeoutSeconds: Double
    /// Chunk size for every level, bytes; nil lets the planner choose.
    public let chunkBytes: Int?
    /// The benchmark's sizes when listed one by one (`sizes: [1M, 16M]`); nil uses min…max.
    public let sizes: [Int]?
    /// What a `kind: train` job trains; nil for the other kinds.
    public let training: TrainingSpec?
    /// Faults of the WAN links, carried out by the gateways while the job runs.
    public let faults: [LinkFault]
    /// Faults that kill workers, gateways or regions (`faults:` entries with `kill:`).
    public let kills: [KillFault]
    /// What the job needs to go on when members die (`quorum:`); nil: every host.
    public let quorum: Quorum?

    /// The fewest workers and regions a job goes on with. Above them a lost worker is left out
    /// (a new membership epoch, the step in flight retried over the survivors) and may join
    /// again; below them the job stops, naming what is missing.
    public struct Quorum: Sendable, Equatable {
        /// Workers (hosts) that must be members.
        public let hosts: Int
        /// Regions that must each keep at least one worker.
        public let regions: Int
        /// The line of `quorum:` in the job file, for errors against the topology.
        public let line: Int

        public init(hosts: Int, regions: Int, line: Int = 0) {
            self.hosts = hosts
            self.regions = regions
            self.line = line
        }
    }

    public static let algorithms = ClusterAlgorithm.allCases.map(\.rawValue)

    public static func load(path: String) throws -> JobSpec {
        try parse(try ConfigError.readFile(path, what: "job"), file: path)
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> JobSpec {
        let root = try FieldReader(
            try YAMLParser.parse(text, file: file), file: file, path: "",
            known: [
                "name", "kind", "steps", "gradient", "compute", "samples_per_step", "algo",
                "min_bytes", "max_bytes", "step_factor", "iters", "warmup", "timeout", "chunk", "sizes",
                "model", "data", "optimizer", "schedules", "bucket", "target_loss", "loss_window", "faults",
                "quorum",
            ])
        var sizes: [Int]?
        if root.contains("sizes") {
            sizes = []
            for (node, path) in try root.list("sizes") {
                guard case .scalar(let text, _) = node, let size = Units.bytes(text), size > 0, size % 4 == 0,
                    size <= 1 << 30
                else {
                    throw ConfigError(
                        .invalidValue, file: file, line: node.line, field: path,
                        message:
                            "expected a size like 16MiB (a multiple of 4 bytes, up to 1 GiB), got \(node.kindDescription)"
                    )
                }
                sizes!.append(size)
            }
        }
        let kind = Kind(rawValue: try root.choice("kind", of: ["sync", "bench", "train"], default: "sync"))!
        let steps = try root.integer("steps", default: 20, minimum: 1, maximum: 1_000_000)
        let training = kind == .train ? try TrainingSpec.parse(root, steps: steps, file: file) : nil
        var samplesPerStep = try root.integer("samples_per_step", default: 32, minimum: 1)
        if let training { samplesPerStep = training.data.batch }
        if kind != .train,
            let key = ["model", "data", "optimizer", "schedules", "bucket", "target_loss", "loss_window"].first(
                where: root.contains)
        {
            throw ConfigError(
                .unsupported, file: file, line: root.node(key)!.line, field: key,
                message: "only a kind: train job takes \(key)")
        }
        let minBytes = try root.bytes("min_bytes", default: 64 << 10)
        let maxBytes = try root.bytes("max_bytes", default: 16 << 20)
        guard minBytes <= maxBytes else {
            throw ConfigError(
                .invalidValue, file: file, line: root.node("min_bytes")?.line ?? root.line, field: "min_bytes",
                message: "min_bytes (\(minBytes)) exceeds max_bytes (\(maxBytes))")
        }
        let gradient = try root.bytes("gradient", default: 4 << 20)
        for (key, value) in [("gradient", gradient), ("max_bytes", maxBytes)] where value > 1 << 30 || value % 4 != 0 {
            throw ConfigError(
                .invalidValue, file: file, line: root.node(key)?.line ?? root.line, field: key,
                message:
                    "expected a whole number of float32 elements (a multiple of 4 bytes) up to 1 GiB, got \(value) bytes"
            )
        }
        let timeout = try root.seconds("timeout", default: 60)
        guard timeout >= 0.001 else { throw root.error("timeout", "expected at least 1ms, got \(timeout) s") }
        return JobSpec(
            name: try root.string("name"),
            kind: kind,
            steps: steps,
            gradientBytes: gradient,
            computeSeconds: kind == .train ? 0 : try root.seconds("compute", default: 0),
            samplesPerStep: samplesPerStep,
            algorithm: ClusterAlgorithm(rawValue: try root.choice("algo", of: algorithms, default: "auto"))!,
            minBytes: minBytes,
            maxBytes: maxBytes,
            stepFactor: try root.integer("step_factor", default: 4, minimum: 2),
            iterations: try root.integer("iters", default: 10, minimum: 1, maximum: 100_000),
            warmupIterations: try root.integer("warmup", default: 2, minimum: 0, maximum: 100_000),
            timeoutSeconds: timeout,
            chunkBytes: root.contains("chunk")
                ? try root.bytes("chunk", minimum: 4, maximum: DataFrameHeader.maximumPayloadBytes) : nil,
            sizes: sizes,
            training: training,
            faults: try LinkFault.list(root, file: file),
            kills: try KillFault.list(root, file: file),
            quorum: try root.node("quorum").map { node throws(ConfigError) in
                let fields = try FieldReader(node, file: file, path: "quorum", known: ["hosts", "regions"])
                return Quorum(
                    hosts: try fields.integer("hosts", default: 1, minimum: 1, maximum: 1_000_000),
                    regions: try fields.integer("regions", default: 1, minimum: 1, maximum: 1_000_000),
                    line: node.line)
            })
    }

    /// The benchmark's sizes: min, min·f, …, up to max.
    public var benchSizes: [Int] {
        if let sizes { return sizes }
        var sizes: [Int] = []
        var size = max(minBytes, 4)
        while size <= maxBytes {
            sizes.append(size)
            size *= stepFactor
        }
        return sizes
    }
}
