/// A fault of a WAN link, as a job's `faults:` declares it: the link goes dark, runs degraded
/// or flaps, from a time after the job's first step (or from a step) for a while.
///
/// ```yaml
/// faults:
///   - { link: [us-east, eu-west], at: 2s, for: 3s, down: true }
///   - { link: [us-east, eu-west], step: 30, for: 5s, bandwidth: 10Mbps, latency: 120ms }
///   - { link: [eu-west, us-east], directed: true, at: 10s, for: 4s, flap: 500ms }
/// ```
public struct LinkFault: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// No byte starts across the link; offers queue to its bound and push back.
        case down
        /// The link runs at this bandwidth and/or latency (nil: as declared).
        case degraded(bitsPerSecond: Double?, latencySeconds: Double?)
        /// Down and up in turn, each for half of `periodSeconds`, starting down.
        case flap(periodSeconds: Double)
    }

    /// The link's ends; both directions unless `directed`.
    public var from: String
    public var to: String
    public var directed: Bool
    /// When it begins: seconds after the job's first step began, or at the start of step `step`
    /// (counted from 0 over the whole job).
    public var atSeconds: Double?
    public var atStep: Int?
    public var forSeconds: Double
    public var kind: Kind
    /// The line of the file that declares it, for errors found later (against the topology).
    public var line: Int

    static let fields = ["link", "directed", "at", "step", "for", "down", "bandwidth", "latency", "flap"]

    /// A job's `faults`, each checked with file, line and field (the regions against the
    /// topology when the coordinator starts).
    static func list(_ root: FieldReader, file: String) throws(ConfigError) -> [LinkFault] {
        guard root.contains("faults") else { return [] }
        var faults: [LinkFault] = []
        for (node, path) in try root.list("faults") where !KillFault.isKill(node) {
            if isPartition(node) {
                faults += try partition(node, path: path, file: file, when: true)
            } else {
                faults.append(try read(node, path: path, file: file, when: true))
            }
        }
        return faults
    }

    /// One fault given on its own (`straits fault`), as a `faults:` entry is written, e.g.
    /// `{ link: [a, b], for: 3s, down: true }`; without `at` or `step` it begins at once. A
    /// partition is every link it cuts.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> [LinkFault] {
        let node = try YAMLParser.parse(text, file: file)
        if isPartition(node) { return try partition(node, path: "fault", file: file, when: false) }
        return [try read(node, path: "fault", file: file, when: false)]
    }

    /// Whether a `faults:` entry is a partition (it has `partition:`).
    static func isPartition(_ node: YAMLNode) -> Bool {
        guard case .mapping(let entries, _) = node else { return false }
        return entries.contains { $0.key == "partition" }
    }

    /// A network partition, `{ partition: [[us-east], [eu-west, ap-northeast]], at: 5s, for: 3s }`:
    /// every link between two of its groups goes down for the while, both ways.
    static func partition(_ node: YAMLNode, path: String, file: String, when: Bool) throws(ConfigError)
        -> [LinkFault]
    {
        let fields = try FieldReader(node, file: file, path: path, known: ["partition", "at", "step", "for"])
        let groupsNode = try fields.required("partition")
        var groups: [[String]] = []
        if case .sequence(let items, _) = groupsNode {
            for item in items {
                guard case .sequence(let names, _) = item else { break }
                var group: [String] = []
                for name in names {
                    guard case .scalar(let text, _) = name, !text.isEmpty else { break }
                    group.append(text)
                }
                guard group.count == names.count, !group.isEmpty else { break }
                groups.append(group)
            }
            if groups.count != items.count { groups = [] }
        }
        let all = groups.flatMap { $0 }
        guard groups.count >= 2, Set(all).count == all.count else {
            throw ConfigError(
                .invalidValue, file: file, line: groupsNode.line, field: "\(path).partition",
                message:
                    "expected two or more groups of region names, no region twice, like [[us-east], [eu-west, ap-northeast]]"
            )
        }
        let (atSeconds, atStep) = try fields.when(required: when, what: "the partition begins")
        let duration = try fields.seconds("for")
        guard duration > 0 else { throw fields.error("for", "expected a time above 0") }
        var faults: [LinkFault] = []
        for (index, group) in groups.enumerated() {
            for other in groups[(index + 1)...] {
                for a in group {
                    for b in other {
                        faults.append(
                            LinkFault(
                                from: a, to: b, directed: false, atSeconds: atSeconds, atStep: atStep,
                                forSeconds: duration, kind: .down, line: fields.line))
                    }
                }
            }
        }
        return faults
    }

    /// A fault entry; `when`: it must say when it begins (at or step).
    private static func read(_ node: YAMLNode, path: String, file: String, when: Bool) throws(ConfigError)
        -> LinkFault
    {
        let fields = try FieldReader(node, file: file, path: path, known: fields)
        let link = try fields.required("link")
        guard case .sequence(let ends, _) = link, ends.count == 2, case .scalar(let a, _) = ends[0],
            case .scalar(let b, _) = ends[1], a != b
        else {
            throw ConfigError(
                .invalidValue, file: file, line: link.line, field: "\(path).link",
                message: "expected two different region names like [us-east, eu-west], got \(link.kindDescription)")
        }
        let (atSeconds, atStep) = try fields.when(required: when, what: "the fault begins")
        let duration = try fields.seconds("for")
        guard duration > 0 else { throw fields.error("for", "expected a time above 0") }
        let kinds = ["down", "bandwidth", "latency", "flap"].filter(fields.contains)
        let kind: Kind
        if kinds == ["down"] {
            guard try fields.boolean("down", default: true) else {
                throw fields.error("down", "expected true (leave the field out for a link that stays up)")
            }
            kind = .down
        } else if kinds == ["flap"] {
            let period = try fields.seconds("flap")
            guard period >= 0.01 else { throw fields.error("flap", "expected a period of at least 10ms") }
            kind = .flap(periodSeconds: period)
        } else if !kinds.isEmpty && kinds.allSatisfy({ $0 == "bandwidth" || $0 == "latency" }) {
            let rate = fields.contains("bandwidth") ? try fields.bitsPerSecond("bandwidth", allowUnlimited: false) : nil
            if let rate, rate < 1e3 { throw fields.error("bandwidth", "expected at least 1kbps") }
            kind = .degraded(
                bitsPerSecond: rate, latencySeconds: fields.contains("latency") ? try fields.seconds("latency") : nil)
        } else {
            throw ConfigError(
                .invalidValue, file: file, line: fields.line, field: path,
                message:
                    "a fault is one of down: true, bandwidth and/or latency (degraded), or flap: PERIOD; got \(kinds.isEmpty ? "none" : kinds.joined(separator: " and "))"
            )
        }
        return LinkFault(
            from: a, to: b, directed: try fields.boolean("directed", default: false),
            atSeconds: atSeconds, atStep: atStep,
            forSeconds: duration, kind: kind, line: fields.line)
    }

    /// The directed links it touches, as (from, to).
    public var links: [(from: String, to: String)] { directed ? [(from, to)] : [(from, to), (to, from)] }
}
