import Foundation

/// Regions, hosts, devices and the WAN links between regions, as a topology file declares them.
public struct ClusterTopology: Sendable, Equatable {
    public struct Region: Sendable, Equatable {
        public let name: String
        public let hosts: Int
        public let devicesPerHost: Int
    }

    /// A directed WAN link.
    public struct Link: Sendable, Equatable {
        public let from: String
        public let to: String
        public let bitsPerSecond: Double
        /// One way.
        public let latencySeconds: Double
        public let jitterSeconds: Double
        /// Whether the link's bandwidth counts TCP/IPv4/Ethernet headers (the default; a
        /// link carries less payload than its line rate) or only the bytes Straits sends.
        public let framing: Framing
        /// A token bucket in front of the line, bytes on the wire (0: none; see `LinkSpec`).
        public var burstBytes = 0

        public enum Framing: String, Sendable, Equatable, CaseIterable {
            case tcp
            case none
        }
    }

    public let name: String
    public let regions: [Region]
    /// Directed links; a symmetric link in the file gives one each way.
    public let links: [Link]
    /// Inside a region; nil means unshaped (the machine's own speed).
    public let lanBitsPerSecond: Double?

    public var hostCount: Int { regions.reduce(0) { $0 + $1.hosts } }
    public var deviceCount: Int { regions.reduce(0) { $0 + $1.hosts * $1.devicesPerHost } }

    public func region(named name: String) -> Region? { regions.first { $0.name == name } }

    public func link(from: String, to: String) -> Link? { links.first { $0.from == from && $0.to == to } }

    /// Loads and checks a topology file.
    public static func load(path: String) throws -> ClusterTopology {
        try parse(try ConfigError.readFile(path, what: "topology"), file: path)
    }

    /// Parses and checks topology text; errors name `file`, line and field.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> ClusterTopology {
        let root = try FieldReader(
            try YAMLParser.parse(text, file: file), file: file, path: "",
            known: ["name", "regions", "links", "lan"])
        let name = try root.string("name")
        var regions: [Region] = []
        var lines: [String: Int] = [:]
        for (node, path) in try root.list("regions") {
            let fields = try FieldReader(node, file: file, path: path, known: ["name", "hosts", "devices_per_host"])
            let region = Region(
                name: try fields.string("name"),
                hosts: try fields.integer("hosts", minimum: 1, maximum: 1024),
                devicesPerHost: try fields.integer("devices_per_host", default: 1, minimum: 1, maximum: 256))
            if let first = lines[region.name] {
                throw ConfigError(
                    .invalidValue, file: file, line: fields.line, field: "\(path).name",
                    message: "region \"\(region.name)\" is declared twice (first on line \(first))")
            }
            lines[region.name] = fields.line
            regions.append(region)
        }
        guard !regions.isEmpty else {
            throw ConfigError(
                .missingField, file: file, line: root.node("regions")?.line ?? 1, field: "regions",
                message: "expected at least one region")
        }

        var links: [Link] = []
        if root.contains("links") {
            for (node, path) in try root.list("links") {
                let fields = try FieldReader(
                    node, file: file, path: path,
                    known: ["between", "bandwidth", "latency", "jitter", "directed", "framing", "burst"])
                let between = try fields.required("between")
                guard case .sequence(let ends, _) = between, ends.count == 2,
                    case .scalar(let a, _) = ends[0], case .scalar(let b, _) = ends[1]
                else {
                    throw ConfigError(
                        .invalidValue, file: file, line: between.line, field: "\(path).between",
                        message: "expected two region names like [us-east, eu-west], got \(between.kindDescription)")
                }
                for end in [a, b] where lines[end] == nil {
                    let hint = FieldReader.closest(end, in: regions.map(\.name)).map { " (did you mean \($0)?)" } ?? ""
                    throw ConfigError(
                        .invalidValue, file: file, line: between.line, field: "\(path).between",
                        message:
                            "unknown region \"\(end)\"\(hint); regions are \(regions.map(\.name).joined(separator: ", "))"
                    )
                }
                guard a != b else {
                    throw ConfigError(
                        .invalidValue, file: file, line: between.line, field: "\(path).between",
                        message: "a link joins two different regions, got \(a) twice")
                }
                let rate = try fields.bitsPerSecond("bandwidth", allowUnlimited: false)!
                let latency = try fields.seconds("latency")
                let jitter = try fields.seconds("jitter", default: 0)
                guard jitter <= latency else {
                    throw ConfigError(
                        .invalidValue, file: file, line: fields.node("jitter")!.line, field: "\(path).jitter",
                        message:
                            "jitter (\(Units.formatDuration(seconds: jitter))) must not exceed the latency (\(Units.formatDuration(seconds: latency)))"
                    )
                }
                let framing = Link.Framing(
                    rawValue: try fields.choice("framing", of: Link.Framing.allCases.map(\.rawValue), default: "tcp"))!
                let burst = try fields.bytes("burst", default: 0)
                let directed = try fields.boolean("directed", default: false)
                for (from, to) in directed ? [(a, b)] : [(a, b), (b, a)] {
                    if links.contains(where: { $0.from == from && $0.to == to }) {
                        throw ConfigError(
                            .invalidValue, file: file, line: fields.line, field: "\(path).between",
                            message: "the link \(from) → \(to) is declared twice")
                    }
                    links.append(
                        Link(
                            from: from, to: to, bitsPerSecond: rate, latencySeconds: latency, jitterSeconds: jitter,
                            framing: framing,
                            burstBytes: burst))
                }
            }
        }
        for a in regions {
            for b in regions where a.name != b.name && !links.contains(where: { $0.from == a.name && $0.to == b.name })
            {
                throw ConfigError(
                    .missingField, file: file, line: root.node("links")?.line ?? root.line, field: "links",
                    message:
                        "no link from \(a.name) to \(b.name); every pair of regions needs one (symmetric unless `directed: true`)"
                )
            }
        }

        var lan: Double?
        if let node = root.node("lan") {
            let fields = try FieldReader(node, file: file, path: "lan", known: ["bandwidth"])
            lan = try fields.bitsPerSecond("bandwidth", allowUnlimited: true)
        }
        return ClusterTopology(name: name, regions: regions, links: links, lanBitsPerSecond: lan)
    }
}
