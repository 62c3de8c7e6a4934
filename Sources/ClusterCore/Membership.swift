import Config
import StraitsWire

/// The coordinator's membership: who may join, who has joined, when heartbeats go out, and who
/// has gone silent. It does no I/O and reads no clock: each event comes with `now` (monotonic
/// nanoseconds) and returns what the shell is to do, so admission and liveness are tested under
/// a manual clock.
public struct Membership: Sendable {
    /// A peer's ZeroMQ routing id on the coordinator's ROUTER.
    public typealias Route = [UInt8]

    /// A member: a worker (by the order it was admitted in) or a region's gateway.
    public enum MemberID: Hashable, Sendable {
        case worker(Int)
        case gateway(region: Int)
    }

    /// An admitted worker or gateway, and what it last reported.
    public struct Member: Sendable {
        public let route: Route
        public let join: ControlMessage.Join
        /// Its region, by index in the topology.
        public let region: Int
        /// When it was last heard from (monotonic nanoseconds).
        public internal(set) var lastHeard: Int64
        public var report = MemberReport()

        public var isGateway: Bool { join.memberRole == .gateway }

        /// How logs and errors name it: `us-east/host 1 (pid 42)` or `gateway us-east (pid 43)`.
        public var label: String {
            isGateway
                ? "gateway \(join.region) (pid \(join.pid))"
                : "\(join.region)/host \(join.host) (pid \(join.pid))"
        }
    }

    /// What a member reported in its heartbeats and step results: the counters the records are made of.
    public struct MemberReport: Sendable, Equatable {
        public var traffic = ControlMessage.Traffic()
        public var computeS = 0.0
        public var commS = 0.0
        public var stepsDone = 0
        /// A gateway's link counters, by destination region.
        public var links: [ControlMessage.LinkStats] = []
        public init() {}
    }

    /// What the shell does next.
    public enum Directive: Equatable, Sendable {
        /// A member was admitted: greet it with a heartbeat (and log it).
        case admitted(MemberID)
        /// A join was refused: tell the peer why (and log it).
        case refuse(route: Route, reason: String)
        /// Send heartbeat `seq` to every member.
        case heartbeat(seq: Int)
        /// A member is dead: the job cannot go on without it.
        case dead(MemberID, reason: String)
        /// A member broke the protocol before the job started and was dropped: its seat is free
        /// again. Tell the peer why (and log it).
        case expelled(route: Route, label: String, reason: String)
    }

    /// Timing of the liveness protocol, in nanoseconds.
    public struct Timing: Sendable, Equatable {
        /// Between two heartbeats to every member.
        public var heartbeat: Int64
        /// Silence after which a member is dead.
        public var deadAfter: Int64
        public init(heartbeat: Int64, deadAfter: Int64) {
            self.heartbeat = heartbeat
            self.deadAfter = deadAfter
        }
    }

    public let topology: ClusterTopology
    public let timing: Timing
    /// Whether each region brings a gateway (several regions, WAN through gateways).
    public let expectsGateways: Bool
    /// Workers in the order they were admitted (`MemberID.worker(i)` is `workers[i]`).
    public private(set) var workers: [Member] = []
    /// Each region's gateway, by region index.
    public private(set) var gateways: [Int: Member] = [:]
    /// Whether joins are still taken (until the job starts).
    public private(set) var admitting = true
    /// Whether a worker may join the running job in a free seat (a job with a quorum).
    public var rejoins = false
    /// Workers that left the job (died and were left out): their entries stay, so that
    /// `MemberID.worker(i)` keeps naming the same worker; their seats are free.
    public private(set) var departed = Set<Int>()
    public private(set) var heartbeatSequence = 0
    private var nextHeartbeat: Int64
    /// Each member by its route, so that a message finds its sender in constant time.
    private var routes: [Route: MemberID] = [:]
    /// No member can be dead before this (the earliest silence deadline when members were last
    /// looked over; deadlines only move later as members are heard), so liveness costs a look
    /// over every member only when this passes, not on every message.
    private var livenessCheckAt = Int64.max
    /// Which worker holds each region's host (index into `workers`).
    private var seats: [Seat: Int] = [:]

    private struct Seat: Hashable, Sendable {
        let region: Int
        let host: Int
    }

    /// The job this coordinator runs (`--job-id`): a join naming another is refused.
    public var jobID: String?

    public init(topology: ClusterTopology, timing: Timing, gateways: Bool, now: Int64, jobID: String? = nil) {
        self.jobID = jobID
        self.topology = topology
        self.timing = timing
        expectsGateways = gateways && topology.regions.count > 1
        nextHeartbeat = now
    }

    /// Gateways this job needs: one per region, or none.
    public var gatewaysNeeded: Int { expectsGateways ? topology.regions.count : 0 }

    /// Whether every host and every gateway has joined.
    public var isComplete: Bool { seats.count == topology.hostCount && gateways.count == gatewaysNeeded }

    /// Who has not joined yet, as logs name them.
    public var missing: [String] {
        var missing: [String] = []
        if expectsGateways {
            for (index, region) in topology.regions.enumerated() where gateways[index] == nil {
                missing.append("gateway \(region.name)")
            }
        }
        for (regionIndex, region) in topology.regions.enumerated() {
            for host in 0..<region.hosts where seats[Seat(region: regionIndex, host: host)] == nil {
                missing.append("\(region.name)/host \(host)")
            }
        }
        return missing
    }

    /// Every member, workers first (not those that departed).
    public var everyone: [Member] {
        workers.indices.filter { !departed.contains($0) }.map { workers[$0] }
            + gateways.keys.sorted().map { gateways[$0]! }
    }

    /// Indices into `workers` of the workers that are members now.
    public var liveWorkers: [Int] { workers.indices.filter { !departed.contains($0) } }

    public subscript(id: MemberID) -> Member {
        get {
            switch id {
            case .worker(let index): workers[index]
            case .gateway(let region): gateways[region]!
            }
        }
        set {
            switch id {
            case .worker(let index): workers[index] = newValue
            case .gateway(let region): gateways[region] = newValue
            }
        }
    }

    /// The member behind a routing id, if it has joined.
    public func member(route: Route) -> MemberID? {
        routes[route]
    }

    /// Ends admission: the job starts, and a join from now on is refused.
    public mutating func closeAdmission() {
        admitting = false
    }

    /// A join: admitted, or refused with the reason (each reason names the peer and what is wrong).
    public mutating func onJoin(_ join: ControlMessage.Join, route: Route, now: Int64) -> Directive {
        let label = "\(join.region)/host \(join.host) (pid \(join.pid))"
        guard admitting || rejoins else {
            return .refuse(
                route: route,
                reason: "\(label): the job has already started; this job takes no members mid-job (it has no quorum:)")
        }
        if let jobID, let job = join.job, job != jobID {
            return .refuse(route: route, reason: "\(label): joins job \(job); this coordinator runs job \(jobID)")
        }
        guard let region = topology.regions.firstIndex(where: { $0.name == join.region }) else {
            let names = topology.regions.map(\.name).joined(separator: ", ")
            return .refuse(
                route: route,
                reason: "\(label): topology \(topology.name) has no region \"\(join.region)\" (regions: \(names))")
        }
        switch join.memberRole {
        case .gateway:
            return admitGateway(join, route: route, region: region, now: now)
        case .unknown(let role):
            return .refuse(
                route: route, reason: "\(label): unknown role \"\(role)\" (expected a worker, or role gateway)")
        case .worker:
            break
        }
        let spec = topology.regions[region]
        guard join.host >= 0, join.host < spec.hosts else {
            let plural = spec.hosts == 1 ? "" : "s"
            return .refuse(
                route: route,
                reason:
                    "\(label): region \(spec.name) has \(spec.hosts) host\(plural) (0…\(spec.hosts - 1)) in topology \(topology.name)"
            )
        }
        guard join.devices == spec.devicesPerHost, join.endpoints.count == join.devices else {
            return .refuse(
                route: route,
                reason: "\(label): brings \(join.devices) devices and \(join.endpoints.count) endpoints; "
                    + "region \(spec.name) has \(spec.devicesPerHost) devices per host")
        }
        if let index = seats[Seat(region: region, host: join.host)] {
            let existing = workers[index]
            return .refuse(
                route: route,
                reason: "\(label): \(join.region)/host \(join.host) has already joined as pid \(existing.join.pid)")
        }
        if member(route: route) != nil {
            return .refuse(route: route, reason: "\(label): this connection has already joined")
        }
        workers.append(Member(route: route, join: join, region: region, lastHeard: now))
        seats[Seat(region: region, host: join.host)] = workers.count - 1
        admitted(.worker(workers.count - 1), route: route, now: now)
        return .admitted(.worker(workers.count - 1))
    }

    private mutating func admitGateway(_ join: ControlMessage.Join, route: Route, region: Int, now: Int64) -> Directive
    {
        let label = "gateway \(join.region) (pid \(join.pid))"
        guard expectsGateways else {
            let why = topology.regions.count == 1 ? "one region" : "--no-gateways"
            return .refuse(route: route, reason: "\(label): this run takes no gateways (\(why))")
        }
        if let existing = gateways[region] {
            return .refuse(
                route: route,
                reason: "\(label): region \(join.region) already has its gateway (pid \(existing.join.pid))")
        }
        guard join.endpoints.count == topology.regions.count else {
            return .refuse(
                route: route,
                reason: "\(label): \(join.endpoints.count) ingress endpoints for \(topology.regions.count) regions")
        }
        if member(route: route) != nil {
            return .refuse(route: route, reason: "\(label): this connection has already joined")
        }
        gateways[region] = Member(route: route, join: join, region: region, lastHeard: now)
        admitted(.gateway(region: region), route: route, now: now)
        return .admitted(.gateway(region: region))
    }

    /// Files a new member under its route and counts its silence deadline.
    private mutating func admitted(_ id: MemberID, route: Route, now: Int64) {
        routes[route] = id
        livenessCheckAt = min(livenessCheckAt, now + timing.deadAfter)
    }

    /// Notes that a member was heard from at `now`.
    public mutating func heard(_ id: MemberID, now: Int64) {
        self[id].lastHeard = max(self[id].lastHeard, now)
    }

    /// Time passes: a heartbeat when one is due, and every member silent for `deadAfter` or
    /// longer is dead (exactly at its deadline, not a nanosecond before).
    public mutating func onTick(now: Int64) -> [Directive] {
        var directives: [Directive] = []
        if now >= nextHeartbeat {
            heartbeatSequence += 1
            directives.append(.heartbeat(seq: heartbeatSequence))
            nextHeartbeat = now + timing.heartbeat
        }
        guard now >= livenessCheckAt else { return directives }
        var earliest = Int64.max
        func check(_ id: MemberID, _ member: Member) {
            let deadline = member.lastHeard + timing.deadAfter
            earliest = min(earliest, deadline)
            guard now >= deadline else { return }
            let silence = Seconds.text(now - member.lastHeard, places: 1)
            let reason =
                "\(member.isGateway ? "" : "worker ")\(member.label) sent nothing for \(silence) s "
                + "(dead after \(Seconds.text(timing.deadAfter, places: 3)) s)"
            directives.append(.dead(id, reason: reason))
        }
        for index in workers.indices where !departed.contains(index) { check(.worker(index), workers[index]) }
        for region in gateways.keys.sorted() { check(.gateway(region: region), gateways[region]!) }
        livenessCheckAt = earliest
        return directives
    }

    /// A member's connection closed (libzmq could not route to it): it exited or was killed.
    public func onConnectionGone(route: Route) -> Directive? {
        guard let id = member(route: route) else { return nil }
        let member = self[id]
        let reason =
            "\(member.isGateway ? "" : "worker ")\(member.label) is gone: its connection closed (it exited or was killed)"
        return .dead(id, reason: reason)
    }

    /// A member sent what no honest member sends (a message out of bounds or malformed, or one
    /// only the coordinator sends): it is dropped. While joins are taken its seat is freed for
    /// another peer to take, and admission goes on; once the job runs, the job cannot go on
    /// without it, and the member is dead.
    public mutating func expel(_ id: MemberID, reason: String) -> Directive {
        let member = self[id]
        let why = "\(member.isGateway ? "" : "worker ")\(member.label) was dropped: \(reason)"
        guard admitting else { return .dead(id, reason: why) }
        routes[member.route] = nil
        switch id {
        case .gateway(let region):
            gateways[region] = nil
        case .worker(let index):
            workers.remove(at: index)
            // Later workers move down one place: file them again under their new places.
            seats = [:]
            for (place, worker) in workers.enumerated() {
                seats[Seat(region: worker.region, host: worker.join.host)] = place
                routes[worker.route] = .worker(place)
            }
        }
        return .expelled(route: member.route, label: member.label, reason: why)
    }

    /// A worker left the job (it died, and the job goes on without it): its route is forgotten,
    /// its seat is free for it (restarted) or another to take, and it is no longer watched.
    public mutating func depart(_ index: Int) {
        guard workers.indices.contains(index), departed.insert(index).inserted else { return }
        let member = workers[index]
        routes[member.route] = nil
        let seat = Seat(region: member.region, host: member.join.host)
        if seats[seat] == index { seats[seat] = nil }
    }

    /// A region's gateway left the job (it died): its route is forgotten and its place is free
    /// for a restarted gateway to take.
    public mutating func departGateway(_ region: Int) {
        guard let gateway = gateways.removeValue(forKey: region) else { return }
        routes[gateway.route] = nil
    }

    /// What keeps the members from a quorum of `hosts` workers across `regions` regions, in
    /// words that name the missing seats; nil when they hold it.
    public func shortOfQuorum(hosts: Int, regions: Int) -> String? {
        let live = liveWorkers
        let liveRegions = Set(live.map { workers[$0].region })
        guard live.count < hosts || liveRegions.count < regions else { return nil }
        var parts: [String] = []
        if live.count < hosts { parts.append("\(live.count) of the \(hosts) workers the quorum needs") }
        if liveRegions.count < regions {
            let empty = topology.regions.indices.filter { !liveRegions.contains($0) }.map { topology.regions[$0].name }
            parts.append(
                "\(liveRegions.count) of the \(regions) regions it needs (no worker left in \(empty.joined(separator: ", ")))"
            )
        }
        return "below the quorum: \(parts.joined(separator: " and ")); missing \(missing.joined(separator: ", "))"
    }

    /// The next time `onTick` has something to do: a heartbeat or a liveness deadline.
    public var nextDeadline: Int64 {
        min(nextHeartbeat, livenessCheckAt)
    }
}
