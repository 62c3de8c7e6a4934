/// A fault that kills processes, as a job's `faults:` declares it: a host's worker, a region's
/// gateway, or a whole region (its workers and its gateway) exit at once as SIGKILL makes them,
/// at a time after the job's first step or at a step. Bringing them back is a supervisor's work
/// (`Deploy/local-cluster.sh --restart`), as on a real cluster.
///
/// ```yaml
/// faults:
///   - { kill: worker, region: eu-west, host: 1, step: 40 }
///   - { kill: gateway, region: us-east, at: 12s }
///   - { kill: region, region: ap-south, step: 90 }
/// ```
public struct KillFault: Sendable, Equatable {
    public enum Target: Sendable, Equatable, CustomStringConvertible {
        case worker(region: String, host: Int)
        case gateway(region: String)
        case region(String)

        public var region: String {
            switch self {
            case .worker(let region, _), .gateway(let region), .region(let region): region
            }
        }

        public var description: String {
            switch self {
            case .worker(let region, let host): "worker \(region)/\(host)"
            case .gateway(let region): "gateway \(region)"
            case .region(let region): "region \(region)"
            }
        }
    }

    public var target: Target
    /// When: seconds after the job's first step began, or at the start of step `atStep`.
    public var atSeconds: Double?
    public var atStep: Int?
    /// The line of the file that declares it.
    public var line: Int

    public init(target: Target, atSeconds: Double?, atStep: Int?, line: Int) {
        self.target = target
        self.atSeconds = atSeconds
        self.atStep = atStep
        self.line = line
    }

    static let fields = ["kill", "region", "host", "at", "step"]

    /// Whether a `faults:` entry is a kill (it has `kill:`) rather than a link fault.
    public static func isKill(_ node: YAMLNode) -> Bool {
        guard case .mapping(let entries, _) = node else { return false }
        return entries.contains { $0.key == "kill" }
    }

    /// The job's kills among its `faults`, each checked with file, line and field (regions and
    /// hosts against the topology when the coordinator starts).
    static func list(_ root: FieldReader, file: String) throws(ConfigError) -> [KillFault] {
        guard root.contains("faults") else { return [] }
        var kills: [KillFault] = []
        for (node, path) in try root.list("faults") where isKill(node) {
            kills.append(try read(node, path: path, file: file, when: true))
        }
        return kills
    }

    /// One kill given on its own (`straits fault`), as a `faults:` entry is written; without
    /// `at` or `step` it comes at once.
    public static func parse(_ node: YAMLNode, file: String) throws(ConfigError) -> KillFault {
        try read(node, path: "fault", file: file, when: false)
    }

    /// A kill entry; `when`: it must say when it comes (at or step).
    private static func read(_ node: YAMLNode, path: String, file: String, when: Bool) throws(ConfigError)
        -> KillFault
    {
        let fields = try FieldReader(node, file: file, path: path, known: fields)
        let what = try fields.choice("kill", of: ["worker", "gateway", "region"], default: "worker")
        let region = try fields.string("region")
        let target: Target
        switch what {
        case "worker":
            target = .worker(region: region, host: try fields.integer("host", minimum: 0, maximum: 1_000_000))
        default:
            if fields.contains("host") {
                throw fields.error("host", "a kill of a \(what) names no host (only kill: worker does)")
            }
            target = what == "gateway" ? .gateway(region: region) : .region(region)
        }
        let (atSeconds, atStep) = try fields.when(required: when, what: "the kill comes")
        return KillFault(target: target, atSeconds: atSeconds, atStep: atStep, line: fields.line)
    }
}
