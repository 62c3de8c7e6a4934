import Config
import StraitsWire

/// When the job's link faults begin and end, and what each gateway is told. It does no I/O and
/// reads no clock: the coordinator hands it `now` (monotonic nanoseconds), as it does the
/// membership core.
public struct FaultSchedule: Sendable {
    /// A change to one directed link: its source region's gateway is told.
    public struct Action: Equatable, Sendable {
        /// The fault's place in the job's list.
        public var fault: Int
        /// Regions, by index in the topology.
        public var from: Int
        public var to: Int
        public var state: ControlMessage.Fault.State
        public var bitsPerSecond: Double?
        public var latencySeconds: Double?
    }

    /// A kill that is due: what to end, by the fault's place in the job's list of kills.
    public struct Kill: Equatable, Sendable {
        public var fault: Int
        public var target: KillFault.Target
        public init(fault: Int, target: KillFault.Target) {
            self.fault = fault
            self.target = target
        }
    }

    public private(set) var faults: [LinkFault]
    public private(set) var kills: [KillFault]
    /// Kills yet to come, by time (ties in the order they were made), and those scheduled.
    private var pendingKills: [(time: Int64, order: Int, index: Int)] = []
    private var killsScheduled = Set<Int>()
    /// Each fault's links, as region indices.
    private var links: [[(from: Int, to: Int)]]
    /// When the job's first step began (nil: not yet).
    public private(set) var started: Int64?
    /// Changes yet to come, by time (ties in the order they were made).
    private var pending: [(time: Int64, order: Int, action: Action)] = []
    private var made = 0
    /// Faults that have begun.
    private var begun = Set<Int>()

    /// The most changes one fault may make (a flap's toggles).
    public static let maximumChanges = 100_000

    /// Checks `faults` against the topology's regions and links: a wrong one is a `ConfigError`
    /// naming `file`, the fault's line and its field.
    public init(faults: [LinkFault], kills: [KillFault] = [], topology: ClusterTopology, file: String)
        throws(ConfigError)
    {
        self.faults = faults
        self.kills = kills
        for (index, kill) in kills.enumerated() {
            guard let region = topology.regions.first(where: { $0.name == kill.target.region }) else {
                throw ConfigError(
                    .invalidValue, file: file, line: kill.line, field: "faults (kill \(index)).region",
                    message:
                        "topology \(topology.name) has no region \"\(kill.target.region)\" (regions: \(topology.regions.map(\.name).joined(separator: ", ")))"
                )
            }
            if case .worker(_, let host) = kill.target, host >= region.hosts {
                throw ConfigError(
                    .invalidValue, file: file, line: kill.line, field: "faults (kill \(index)).host",
                    message: "region \(region.name) has \(region.hosts) hosts (0…\(region.hosts - 1))")
            }
        }
        var links: [[(from: Int, to: Int)]] = []
        let names = topology.regions.map(\.name)
        for (index, fault) in faults.enumerated() {
            var pairs: [(from: Int, to: Int)] = []
            for (from, to) in fault.links {
                guard let a = names.firstIndex(of: from), let b = names.firstIndex(of: to) else {
                    let unknown = names.contains(from) ? to : from
                    throw ConfigError(
                        .invalidValue, file: file, line: fault.line, field: "faults[\(index)].link",
                        message:
                            "topology \(topology.name) has no region \"\(unknown)\" (regions: \(names.joined(separator: ", ")))"
                    )
                }
                pairs.append((a, b))
            }
            if case .flap(let period) = fault.kind, fault.forSeconds / (period / 2) > Double(Self.maximumChanges) {
                throw ConfigError(
                    .invalidValue, file: file, line: fault.line, field: "faults[\(index)].flap",
                    message:
                        "flapping every \(period) s for \(fault.forSeconds) s makes more than \(Self.maximumChanges) changes"
                )
            }
            links.append(pairs)
        }
        self.links = links
    }

    /// A fault given while the job runs (`straits fault`), checked as the job's are: it begins
    /// its `at` after `now` (before the job's first step: after that step, as the job's do), or
    /// at its step. Returns its place in the list.
    public mutating func inject(_ fault: LinkFault, topology: ClusterTopology, now: Int64) throws(ConfigError) -> Int {
        let checked = try FaultSchedule(faults: [fault], topology: topology, file: "fault")
        faults.append(fault)
        links.append(checked.links[0])
        let index = faults.count - 1
        if started != nil, let at = fault.atSeconds { begin(index, at: now + Self.nanoseconds(at)) }
        return index
    }

    /// A kill given while the job runs (`straits fault`), checked as the job's are: it comes its
    /// `at` after `now` (before the job's first step: after that step), or at its step. Returns
    /// its place in the list of kills.
    public mutating func inject(kill: KillFault, topology: ClusterTopology, now: Int64) throws(ConfigError) -> Int {
        _ = try FaultSchedule(faults: [], kills: [kill], topology: topology, file: "fault")
        kills.append(kill)
        let index = kills.count - 1
        if started != nil, let at = kill.atSeconds { schedule(kill: index, at: now + Self.nanoseconds(at)) }
        return index
    }

    /// The job's first step begins at `now`: faults that begin at a time are scheduled from it.
    public mutating func start(now: Int64) -> [Action] {
        guard started == nil else { return [] }
        started = now
        for (index, fault) in faults.enumerated() {
            if let at = fault.atSeconds { begin(index, at: now + Self.nanoseconds(at)) }
        }
        for (index, kill) in kills.enumerated() {
            if let at = kill.atSeconds { schedule(kill: index, at: now + Self.nanoseconds(at)) }
        }
        return onTick(now: now)
    }

    private mutating func schedule(kill index: Int, at time: Int64) {
        guard killsScheduled.insert(index).inserted else { return }
        pendingKills.append((time, made, index))
        made += 1
        pendingKills.sort { ($0.time, $0.order) < ($1.time, $1.order) }
    }

    /// The kills due by `now`, in time order (those of a step are due once `onStep` has seen it).
    public mutating func dueKills(now: Int64) -> [Kill] {
        var due: [Kill] = []
        while let first = pendingKills.first, first.time <= now {
            pendingKills.removeFirst()
            due.append(Kill(fault: first.index, target: kills[first.index].target))
        }
        return due
    }

    /// Step `step` begins at `now`: faults that begin at it are scheduled.
    public mutating func onStep(_ step: Int, now: Int64) -> [Action] {
        var actions = start(now: now)
        for (index, fault) in faults.enumerated() where fault.atStep == step { begin(index, at: now) }
        for (index, kill) in kills.enumerated() where kill.atStep == step { schedule(kill: index, at: now) }
        actions += onTick(now: now)
        return actions
    }

    /// The changes due by `now`, in time order.
    public mutating func onTick(now: Int64) -> [Action] {
        var due: [Action] = []
        while let first = pending.first, first.time <= now {
            due.append(pending.removeFirst().action)
        }
        return due
    }

    /// When the next change is due (nil: none is scheduled).
    public var nextDeadline: Int64? {
        [pending.first?.time, pendingKills.first?.time].compactMap { $0 }.min()
    }

    /// Whether every fault has begun and ended, and every kill come.
    public var isDone: Bool {
        pending.isEmpty && begun.count == faults.count && pendingKills.isEmpty && killsScheduled.count == kills.count
    }

    private mutating func begin(_ index: Int, at start: Int64) {
        guard begun.insert(index).inserted else { return }
        let fault = faults[index]
        let end = start + Self.nanoseconds(fault.forSeconds)
        var changes: [(time: Int64, state: ControlMessage.Fault.State)] = []
        var rate: Double?
        var latency: Double?
        switch fault.kind {
        case .down:
            changes = [(start, .down), (end, .up)]
        case .degraded(let bitsPerSecond, let latencySeconds):
            rate = bitsPerSecond
            latency = latencySeconds
            changes = [(start, .degraded), (end, .restored)]
        case .flap(let period):
            let half = max(Self.nanoseconds(period / 2), 1)
            var time = start
            var down = true
            while time < end {
                changes.append((time, down ? .down : .up))
                down.toggle()
                time += half
            }
            if !down { changes.append((end, .up)) }
        }
        for (time, state) in changes {
            for link in links[index] {
                let degraded = state == .degraded
                let action = Action(
                    fault: index, from: link.from, to: link.to, state: state,
                    bitsPerSecond: degraded ? rate : nil, latencySeconds: degraded ? latency : nil)
                pending.append((time, made, action))
                made += 1
            }
        }
        pending.sort { ($0.time, $0.order) < ($1.time, $1.order) }
    }

    static func nanoseconds(_ seconds: Double) -> Int64 { Int64((seconds * 1e9).rounded()) }
}
