import StraitsWire

/// Which links the coordinator measures before it plans, one probe at a time, and what the
/// planner and the model take from the results.
///
/// Probes run between the first two hosts of each region (`lan`) and between the first hosts
/// of each pair of regions (`wan`). With one host per region but gateways, a `hop` between the
/// first hosts of two regions, straight and not through the gateways, stands in for the LAN; it
/// goes first, so its last message has arrived before the next probe's first goes through a
/// gateway. The planner takes the slowest link of each kind; the model and the gateways take
/// the fastest LAN pair (interference only ever slows a probe down).
public struct LinkCalibration: Sendable {
    public enum Kind: String, Sendable {
        case lan, hop, wan
    }

    /// One probe between two workers (by place in the plan).
    public struct Probe: Equatable, Sendable {
        public var kind: Kind
        public var from: Int
        public var to: Int
        /// Straight between the two workers, not through their gateways.
        public var direct: Bool
        /// The probe's first collective id.
        public var collective: Int

        public init(kind: Kind, from: Int, to: Int, direct: Bool, collective: Int) {
            self.kind = kind
            self.from = from
            self.to = to
            self.direct = direct
            self.collective = collective
        }
    }

    /// What the planner and the model take from the probes.
    public struct Result: Equatable, Sendable {
        /// The planner's links: the slowest of each kind.
        public var lan: ControlMessage.LinkParameters
        public var wan: ControlMessage.LinkParameters
        /// A hop between two processes uncontended: the fastest LAN pair, else the direct hop.
        public var hop: ControlMessage.LinkParameters
        /// How `hop` was measured: `lan`, `hop`, or `assumed` (nothing to measure between).
        public var hopMeasuredAs: String
        /// What a message costs the cores beyond its bytes, per probe that measured it.
        public var cpuPerMessageS: [Double]
    }

    /// The LAN cost assumed when no two processes can be measured against each other.
    public static let assumedLAN = ControlMessage.LinkParameters(alphaS: 80e-6, betaSPerByte: 1 / 1.0e9)

    public let probes: [Probe]
    /// Results so far, one per probe in order.
    public private(set) var measured: [ControlMessage.LinkParameters] = []

    /// `workersByRegion`: each region's workers by place in the plan, in region order.
    public init(workersByRegion: [[Int]], gateways: Bool) {
        var probes: [Probe] = []
        func add(_ kind: Kind, _ from: Int, _ to: Int, direct: Bool = false) {
            probes.append(
                Probe(kind: kind, from: from, to: to, direct: direct, collective: CollectiveIDs.probe(probes.count)))
        }
        for region in workersByRegion where region.count >= 2 { add(.lan, region[0], region[1]) }
        if probes.isEmpty && gateways && workersByRegion.count >= 2 {
            add(.hop, workersByRegion[0][0], workersByRegion[1][0], direct: true)
        }
        for a in workersByRegion.indices {
            for b in workersByRegion.indices where b > a { add(.wan, workersByRegion[a][0], workersByRegion[b][0]) }
        }
        self.probes = probes
    }

    /// The probe to run next, or nil when all are measured.
    public var next: Probe? { measured.count < probes.count ? probes[measured.count] : nil }

    /// The result of the probe `next` named.
    public mutating func onProbed(_ link: ControlMessage.LinkParameters) {
        precondition(next != nil, "a probe result with no probe in flight")
        measured.append(link)
    }

    /// What the probes measured, taken together (all probes must be done).
    public var result: Result {
        let of = { (kind: Kind) in zip(self.probes, self.measured).filter { $0.0.kind == kind }.map(\.1) }
        let lanLinks = of(.lan)
        let hops = of(.hop)
        let wanLinks = of(.wan)
        let lan = Self.slowest(lanLinks) ?? hops.first ?? Self.assumedLAN
        let hop = Self.fastest(lanLinks) ?? lan
        return Result(
            lan: lan, wan: Self.slowest(wanLinks) ?? lan, hop: hop,
            hopMeasuredAs: !lanLinks.isEmpty ? "lan" : !hops.isEmpty ? "hop" : "assumed",
            cpuPerMessageS: (lanLinks.isEmpty ? hops : lanLinks).compactMap(\.cpuPerMessageS))
    }

    /// Whether the LAN is assumed (nothing measured between two processes).
    public var lanAssumed: Bool { !probes.contains { $0.kind != .wan } }

    static func slowest(_ links: [ControlMessage.LinkParameters]) -> ControlMessage.LinkParameters? {
        guard !links.isEmpty else { return nil }
        return .init(alphaS: links.map(\.alphaS).max()!, betaSPerByte: links.map(\.betaSPerByte).max()!)
    }

    static func fastest(_ links: [ControlMessage.LinkParameters]) -> ControlMessage.LinkParameters? {
        guard !links.isEmpty else { return nil }
        return .init(alphaS: links.map(\.alphaS).min()!, betaSPerByte: links.map(\.betaSPerByte).min()!)
    }
}
