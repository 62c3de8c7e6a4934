import Foundation

/// A control-plane message between the coordinator and a worker (see `Protocols/control.md`).
///
/// On the wire: an 8-byte envelope frame (magic `STRC`, protocol version, message type, all
/// little-endian) and a body frame holding one JSON object with the fields of `Protocols/control.md`,
/// keys sorted, no spaces. A ROUTER adds the peer's routing-id frame in front.
public enum ControlMessage: Equatable, Sendable {
    case join(Join)
    case refuse(Refuse)
    case plan(Plan)
    case probe(Probe)
    case probed(Probed)
    case step(Step)
    case stepDone(StepDone)
    case heartbeat(Heartbeat)
    case stop(Stop)
    case modelPart(ModelPart)
    case clock(Clock)
    case fault(Fault)
    case inject(Inject)
    case kill(Kill)

    /// The type code in the envelope.
    public enum Kind: UInt16, Sendable, CaseIterable {
        case join = 1
        case refuse = 2
        case plan = 3
        case probe = 4
        case probed = 5
        case step = 6
        case stepDone = 7
        case heartbeat = 8
        case stop = 9
        case modelPart = 10
        case clock = 11
        case fault = 12
        case inject = 13
        case kill = 14

        var name: String {
            switch self {
            case .join: "join"
            case .refuse: "refuse"
            case .plan: "plan"
            case .probe: "probe"
            case .probed: "probed"
            case .step: "step"
            case .stepDone: "step_done"
            case .heartbeat: "heartbeat"
            case .stop: "stop"
            case .modelPart: "model_part"
            case .clock: "clock"
            case .fault: "fault"
            case .inject: "inject"
            case .kill: "kill"
            }
        }
    }

    public var kind: Kind {
        switch self {
        case .join: .join
        case .refuse: .refuse
        case .plan: .plan
        case .probe: .probe
        case .probed: .probed
        case .step: .step
        case .stepDone: .stepDone
        case .heartbeat: .heartbeat
        case .stop: .stop
        case .modelPart: .modelPart
        case .clock: .clock
        case .fault: .fault
        case .inject: .inject
        case .kill: .kill
        }
    }

    /// Worker → coordinator: asks to join, saying where it is and what it has.
    public struct Join: Codable, Equatable, Sendable {
        public var region: String
        public var host: Int
        public var devices: Int
        public var numaNodes: Int
        /// The data endpoint of each device (tcp://host:port).
        public var endpoints: [String]
        public var pid: Int
        /// `gateway` for a region's gateway (then `endpoints` are its ingress endpoints, one per
        /// region in topology order, empty for its own); absent for a worker.
        public var role: String?
        /// The job the peer means to join (the coordinator's `--job-id`), when it was told one: a
        /// coordinator running another job refuses it.
        public var job: String?
        /// A member of the running job joining its coordinator's successor (`--resume`): the
        /// membership epoch it ran in. It keeps its state (absent: a process that starts afresh).
        public var epoch: Int?
        public init(
            region: String, host: Int, devices: Int, numaNodes: Int, endpoints: [String], pid: Int, role: String? = nil
        ) {
            self.region = region
            self.host = host
            self.devices = devices
            self.numaNodes = numaNodes
            self.endpoints = endpoints
            self.pid = pid
            self.role = role
        }
    }

    /// A region's gateway in a plan: where that region's workers send to each other region.
    public struct PlanGateway: Codable, Equatable, Sendable {
        public var region: Int
        /// Ingress endpoint per destination region (by index; empty for its own region).
        public var endpoints: [String]
        public init(region: Int, endpoints: [String]) {
            self.region = region
            self.endpoints = endpoints
        }
    }

    /// A gateway's counters for one outbound link, so far.
    public struct LinkStats: Codable, Equatable, Sendable {
        public var to: String
        public var offeredBytes: Int
        public var deliveredBytes: Int
        public var queuedBytes: Int
        public var deliveredMessages: Int
        /// Seconds the link's serialiser was busy.
        public var busyS: Double
        public var queueDelaySSum: Double
        public var queueDelaySMax: Double
        /// How late deliveries went out against their due time, microseconds.
        public var lateP99Us: Double
        public var lateMaxUs: Double
        public init(
            to: String, offeredBytes: Int, deliveredBytes: Int, queuedBytes: Int, deliveredMessages: Int, busyS: Double,
            queueDelaySSum: Double, queueDelaySMax: Double, lateP99Us: Double, lateMaxUs: Double
        ) {
            self.to = to
            self.offeredBytes = offeredBytes
            self.deliveredBytes = deliveredBytes
            self.queuedBytes = queuedBytes
            self.deliveredMessages = deliveredMessages
            self.busyS = busyS
            self.queueDelaySSum = queueDelaySSum
            self.queueDelaySMax = queueDelaySMax
            self.lateP99Us = lateP99Us
            self.lateMaxUs = lateMaxUs
        }
    }

    /// Coordinator → worker: the join is refused, and why. Its layout is frozen across versions.
    public struct Refuse: Codable, Equatable, Sendable {
        public var reason: String
        public init(reason: String) { self.reason = reason }
    }

    /// α and β of one kind of link, as the planner uses them.
    public struct LinkParameters: Codable, Equatable, Sendable {
        public var alphaS: Double
        public var betaSPerByte: Double
        /// Probe results only: the processor time a ping-pong took the lead's process (sending
        /// one message and receiving one), the median over the pings; by symmetry what one
        /// message costs its two ends beyond its bytes.
        public var cpuPerMessageS: Double?
        public init(alphaS: Double, betaSPerByte: Double, cpuPerMessageS: Double? = nil) {
            self.alphaS = alphaS
            self.betaSPerByte = betaSPerByte
            self.cpuPerMessageS = cpuPerMessageS
        }
    }

    /// One admitted worker in a plan.
    public struct PlanWorker: Codable, Equatable, Sendable {
        public var worker: Int
        public var region: Int
        public var host: Int
        public var firstRank: Int
        public var endpoints: [String]
        /// Its devices, where they are not the plan's `devices_per_worker` (regions whose hosts
        /// bring different numbers of devices).
        public var devices: Int?
        public init(worker: Int, region: Int, host: Int, firstRank: Int, endpoints: [String]) {
            self.worker = worker
            self.region = region
            self.host = host
            self.firstRank = firstRank
            self.endpoints = endpoints
        }
    }

    /// Coordinator → every worker: placement and how to all-reduce, for one membership epoch.
    public struct Plan: Codable, Equatable, Sendable {
        public var epoch: Int
        /// The receiving worker's index in `workers`.
        public var you: Int
        public var regions: [String]
        public var devicesPerWorker: Int
        /// Workers in rank order: region, then host.
        public var workers: [PlanWorker]
        /// `ring` (flat over all ranks) or `hier` (numa → host → region → wan).
        public var algo: ClusterAlgorithm
        public var chunkBytes: Int
        public var maxBytes: Int
        public var checksums: Bool
        public var timeoutS: Double
        public var lan: LinkParameters
        public var wan: LinkParameters
        /// One per region when WAN traffic goes through gateways; absent when it goes direct.
        public var gateways: [PlanGateway]?
        /// To gateways, once the links are measured: what one hop between two processes costs
        /// here (the fastest LAN measured), which each link allows for at both ends (cut-through);
        /// absent: store-and-forward.
        public var gatewayHop: LinkParameters?
        /// Training jobs: the job file's text, which every worker parses as the coordinator did.
        public var job: String?
        /// Elastic jobs: how long a member whose coordinator went silent waits for a successor
        /// (`straits-coordinator --resume`) before it gives up, seconds; absent: it gives up.
        public var successorWaitS: Double?
        public init(
            epoch: Int, you: Int, regions: [String], devicesPerWorker: Int, workers: [PlanWorker],
            algo: ClusterAlgorithm,
            chunkBytes: Int, maxBytes: Int, checksums: Bool, timeoutS: Double, lan: LinkParameters, wan: LinkParameters,
            gateways: [PlanGateway]? = nil, job: String? = nil
        ) {
            self.gateways = gateways
            self.job = job
            self.epoch = epoch
            self.you = you
            self.regions = regions
            self.devicesPerWorker = devicesPerWorker
            self.workers = workers
            self.algo = algo
            self.chunkBytes = chunkBytes
            self.maxBytes = maxBytes
            self.checksums = checksums
            self.timeoutS = timeoutS
            self.lan = lan
            self.wan = wan
        }
    }

    /// Coordinator → worker: measure the link to `peerWorker` (device 0 to device 0).
    public struct Probe: Codable, Equatable, Sendable {
        public var peerWorker: Int
        public var lead: Bool
        public var collective: Int
        /// Straight to the peer's data endpoint even if it is in another region (a hop between
        /// two processes, as the gateways make them), not through the gateways.
        public var direct: Bool?
        public init(peerWorker: Int, lead: Bool, collective: Int, direct: Bool? = nil) {
            self.peerWorker = peerWorker
            self.lead = lead
            self.collective = collective
            self.direct = direct
        }
    }

    /// Worker → coordinator: what a probe measured (sent by the lead).
    public struct Probed: Codable, Equatable, Sendable {
        public var peerWorker: Int
        public var link: LinkParameters
        public init(peerWorker: Int, link: LinkParameters) {
            self.peerWorker = peerWorker
            self.link = link
        }
    }

    /// Coordinator → every worker: run one step.
    public struct Step: Codable, Equatable, Sendable {
        public var step: Int
        public var bytes: Int
        public var computeS: Double
        public var collective: Int
        /// Training steps only: which of the job's schedules this step belongs to (a new one
        /// starts from fresh parameters), and its step number within that schedule.
        public var train: TrainStep?
        /// Whether ranks that leave the choice to the coordinator (`--arrival-wait auto`)
        /// approach held messages' arrivals this step; nil: they do (the coordinator has no model
        /// of the cores, or does not choose).
        public var approachArrivals: Bool?
        /// The chunk every level of this step's all-reduce uses, where the coordinator's model
        /// chose one over the planner's (`ClusterPlanner.chunkCandidates`); nil: the planner's.
        public var chunkBytes: Int?
        /// The membership epoch this attempt at the step runs in (absent: 1). After a member is
        /// lost, the step in flight is sent again in the next epoch, over the survivors.
        public var epoch: Int?
        public init(
            step: Int, bytes: Int, computeS: Double, collective: Int, train: TrainStep? = nil,
            approachArrivals: Bool? = nil,
            chunkBytes: Int? = nil
        ) {
            self.step = step
            self.bytes = bytes
            self.computeS = computeS
            self.collective = collective
            self.train = train
            self.approachArrivals = approachArrivals
            self.chunkBytes = chunkBytes
        }
    }

    /// Both ways, every heartbeat interval; a worker's carries its counters so far.
    public struct Heartbeat: Codable, Equatable, Sendable {
        public var seq: Int
        public var traffic: Traffic?
        public var computeS: Double?
        public var commS: Double?
        public var stepsDone: Int?
        /// From a gateway: its outbound links.
        public var links: [LinkStats]?
        public init(
            seq: Int, traffic: Traffic? = nil, computeS: Double? = nil, commS: Double? = nil, stepsDone: Int? = nil,
            links: [LinkStats]? = nil
        ) {
            self.links = links
            self.seq = seq
            self.traffic = traffic
            self.computeS = computeS
            self.commS = commS
            self.stepsDone = stepsDone
        }
    }

    /// Both ways: one exchange of a clock-offset measurement. A worker or gateway on another host
    /// sends `member_ns` (its clock as it sends); the coordinator answers at once with the same
    /// `seq` and `member_ns` and its own clock in `coordinator_ns`.
    public struct Clock: Codable, Equatable, Sendable {
        public var seq: Int
        public var memberNs: Int64
        public var coordinatorNs: Int64?
        public init(seq: Int, memberNs: Int64, coordinatorNs: Int64? = nil) {
            self.seq = seq
            self.memberNs = memberNs
            self.coordinatorNs = coordinatorNs
        }
    }

    /// Coordinator → worker: the job is over (`ok`) or aborted, and why.
    public struct Stop: Codable, Equatable, Sendable {
        public var ok: Bool
        public var reason: String
        public init(ok: Bool, reason: String) {
            self.ok = ok
            self.reason = reason
        }
    }

    /// Coordinator → a region's gateway: a fault of the job (`faults:`) begins or ends on its
    /// link to region `to`: `down`, `up`, `degraded` (at `bandwidth_bps` and/or `latency_s`), or
    /// `restored` (the link as the topology declares it).
    public struct Fault: Codable, Equatable, Sendable {
        public enum State: String, Codable, Sendable, CaseIterable {
            case down, up, degraded, restored
        }
        public var to: String
        public var state: State
        public var bandwidthBps: Double?
        public var latencyS: Double?
        public init(to: String, state: State, bandwidthBps: Double? = nil, latencyS: Double? = nil) {
            self.to = to
            self.state = state
            self.bandwidthBps = bandwidthBps
            self.latencyS = latencyS
        }
    }

    /// Coordinator → a worker or gateway: a fault of the job (`faults:` `kill`) ends the process
    /// at once, as SIGKILL does: no goodbye, its sockets closed by the kernel.
    public struct Kill: Codable, Equatable, Sendable {
        /// The fault's place in the job's list of kills.
        public var fault: Int
        public var reason: String
        public init(fault: Int, reason: String) {
            self.fault = fault
            self.reason = reason
        }
    }

    /// An operator (`straits fault`) → coordinator: a link fault to carry out now, written as a
    /// job's `faults:` entry; the coordinator answers with the same `fault` and `ok` and `reason`
    /// (what it scheduled, or what is wrong).
    public struct Inject: Codable, Equatable, Sendable {
        public var fault: String
        public var ok: Bool?
        public var reason: String?
        public init(fault: String, ok: Bool? = nil, reason: String? = nil) {
            self.fault = fault
            self.ok = ok
            self.reason = reason
        }
    }
}
