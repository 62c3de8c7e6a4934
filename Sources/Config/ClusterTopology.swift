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
        public var bitsPerSecond: Double
        /// One way.
        public var latencySeconds: Double
        public var jitterSeconds: Double
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
        let regions = try readRegions(root, file: file, known: ["name", "hosts", "devices_per_host"], name: \.name) {
            fields throws(ConfigError) in
            Region(
                name: try fields.string("name"),
                hosts: try fields.integer("hosts", minimum: 1, maximum: 1024),
                devicesPerHost: try fields.integer("devices_per_host", default: 1, minimum: 1, maximum: 256))
        }

        let links = try readLinks(root, regions: regions.map(\.name), file: file).map(\.link)
        var lan: Double?
        if let node = root.node("lan") {
            let fields = try FieldReader(node, file: file, path: "lan", known: ["bandwidth"])
            lan = try fields.bitsPerSecond("bandwidth", allowUnlimited: true)
        }
        return ClusterTopology(name: name, regions: regions, links: links, lanBitsPerSecond: lan)
    }

    /// Reads a file's `regions`, each entry with the fields `known` by `read`: a name declared
    /// twice is refused with the line of the first, and there must be one region at least.
    public static func readRegions<Entry>(
        _ root: FieldReader, file: String, known: [String], name: (Entry) -> String,
        read: (FieldReader) throws(ConfigError) -> Entry
    ) throws(ConfigError) -> [Entry] {
        var regions: [Entry] = []
        var lines: [String: Int] = [:]
        for (node, path) in try root.list("regions") {
            let fields = try FieldReader(node, file: file, path: path, known: known)
            let region = try read(fields)
            if let first = lines[name(region)] {
                throw ConfigError(
                    .invalidValue, file: file, line: fields.line, field: "\(path).name",
                    message: "region \"\(name(region))\" is declared twice (first on line \(first))")
            }
            lines[name(region)] = fields.line
            regions.append(region)
        }
        guard !regions.isEmpty else {
            throw ConfigError(
                .missingField, file: file, line: root.node("regions")?.line ?? 1, field: "regions",
                message: "expected at least one region")
        }
        return regions
    }

    /// Reads a file's `links`: every entry's two ends (known regions, not the same one), its
    /// bandwidth, latency, jitter (at most the latency), framing, token bucket and direction,
    /// as directed links, each with the reader of its entry for fields of `extraFields`; then
    /// checks that every pair of `regions` has a link each way.
    public static func readLinks(
        _ root: FieldReader, regions: [String], file: String, extraFields: [String] = []
    ) throws(ConfigError) -> [(link: Link, fields: FieldReader)] {
        var links: [(link: Link, fields: FieldReader)] = []
        if root.contains("links") {
            for (node, path) in try root.list("links") {
                let fields = try FieldReader(
                    node, file: file, path: path,
                    known: ["between", "bandwidth", "latency", "jitter", "directed", "framing", "burst"] + extraFields)
                let between = try fields.required("between")
                guard case .sequence(let ends, _) = between, ends.count == 2,
                    case .scalar(let a, _) = ends[0], case .scalar(let b, _) = ends[1]
                else {
                    throw ConfigError(
                        .invalidValue, file: file, line: between.line, field: "\(path).between",
                        message: "expected two region names like [us-east, eu-west], got \(between.kindDescription)")
                }
                for end in [a, b] where !regions.contains(end) {
                    let hint = FieldReader.closest(end, in: regions).map { " (did you mean \($0)?)" } ?? ""
                    throw ConfigError(
                        .invalidValue, file: file, line: between.line, field: "\(path).between",
                        message: "unknown region \"\(end)\"\(hint); regions are \(regions.joined(separator: ", "))")
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
                    if links.contains(where: { $0.link.from == from && $0.link.to == to }) {
                        throw ConfigError(
                            .invalidValue, file: file, line: fields.line, field: "\(path).between",
                            message: "the link \(from) → \(to) is declared twice")
                    }
                    let link = Link(
                        from: from, to: to, bitsPerSecond: rate, latencySeconds: latency, jitterSeconds: jitter,
                        framing: framing, burstBytes: burst)
                    links.append((link, fields))
                }
            }
        }
        for a in regions {
            for b in regions where a != b && !links.contains(where: { $0.link.from == a && $0.link.to == b }) {
                throw ConfigError(
                    .missingField, file: file, line: root.node("links")?.line ?? root.line, field: "links",
                    message:
                        "no link from \(a) to \(b); every pair of regions needs one (symmetric unless `directed: true`)"
                )
            }
        }
        return links
    }
}
