import ClusterCore
import Collectives
import Config
import Emulation
import Foundation
import Logging
import StraitsWire
import Telemetry
import Transport

/// Elastic jobs (a `quorum:` in the job): a worker found dead is left out and the job goes on
/// over the survivors in a new membership epoch, the step in flight retried; a worker that
/// joins the running job in a free seat is taken in at the next step, with a survivor's state.
extension Coordinator {
    /// Membership changes not yet carried into an epoch, and losses not yet recovered from.
    struct Elasticity {
        /// Workers lost since the last epoch (indices into `membership.workers`).
        var lost: [Int] = []
        /// Workers that joined the running job, waiting for the next epoch.
        var joining: [Int] = []
        /// Workers taken in that have not yet finished a step: each attempt sends them the state.
        var unsynced = Set<Int>()
        /// A successor's members that joined again holding the state of the step to run.
        var holders = Set<Int>()
        /// Workers that started again from θ_global, and the step (over the whole job) they
        /// started at: their pseudo-gradients cover only the inner steps since.
        var freshSince: [Int: Int] = [:]
        /// The last outer synchronisation's step over the whole job (before a schedule's first:
        /// the step before it began).
        var lastOuter = -1
        /// Losses whose recovery (the next step done over the survivors) is still to come:
        /// who, and when the loss was detected (monotonic nanoseconds).
        var recovering: [(label: String, detectedAt: Int64)] = []

        /// Regions whose gateway died and has not joined again: their WAN is cut.
        var gatewaysDown = Set<Int>()
        /// Regions whose restarted gateway joined, waiting for the next epoch.
        var gatewaysBack: [Int] = []
        /// Whether the step in flight crosses regions (so a dead gateway cuts it).
        var stepCrossesRegions = false
        /// A gateway the step in flight needs died.
        var stepCut = false

        /// Whether the step in flight has to be given up: one of its workers is gone, or a
        /// gateway it sends through.
        var stepLost: Bool { !lost.isEmpty || stepCut }
        var pending: Bool { !lost.isEmpty || !joining.isEmpty || !gatewaysBack.isEmpty }
    }

    /// A region's gateway died while the job runs. An elastic job waits for it to be restarted
    /// (a supervisor's work: `Deploy/local-cluster.sh --restart`): steps inside regions go on,
    /// a step across regions is given up and waits. Returns whether the job goes on.
    func loseGateway(_ region: Int, reason: String) -> Bool {
        guard elastic, !membership.admitting, let gateway = membership.gateways[region] else { return false }
        let now = clock.now()
        membership.departGateway(region)
        try? send(.stop(.init(ok: false, reason: "left out of the job: \(reason)")), to: gateway.route)
        run.event(
            "gateway_lost",
            [
                ("region", .string(topology.regions[region].name)), ("pid", .int(gateway.join.pid)),
                ("epoch", .int(epoch)), ("step", .int(max(steps.step, 0))), ("reason", .string(reason)),
            ])
        trace.membership("lost \(gateway.label)", at: now, args: [("reason", .string(reason))])
        faultLedger.lost(gateway.label, now: now)
        log.warning("\(reason); steps across regions wait for it to join again")
        elasticity.gatewaysDown.insert(region)
        elasticity.recovering.append((gateway.label, now))
        if elasticity.stepCrossesRegions { elasticity.stepCut = true }
        return true
    }

    /// A restarted gateway joined the running job: the next epoch routes through it.
    func gatewayJoined(_ region: Int) {
        let gateway = membership.gateways[region]!
        elasticity.gatewaysDown.remove(region)
        elasticity.gatewaysBack.append(region)
        run.event(
            "gateway_rejoined",
            [
                ("region", .string(topology.regions[region].name)), ("pid", .int(gateway.join.pid)),
                ("epoch", .int(epoch)),
            ])
        trace.membership("joined \(gateway.label)", at: clock.now())
        faultLedger.joined()
        log.info("\(gateway.label) joined the running job; the next epoch routes through it")
    }

    /// Before a step across regions: waits (up to the join timeout) for every lost gateway to
    /// join again; the job stops, naming them, if one does not.
    func awaitGateways(step: Int) throws {
        guard !elasticity.gatewaysDown.isEmpty else { return }
        let limit = options.joinTimeoutSeconds
        try pump(
            until: { self.elasticity.gatewaysDown.isEmpty }, deadline: clock.now() + Self.nanoseconds(limit),
            timeoutMessage: {
                let names = self.elasticity.gatewaysDown.sorted().map { "gateway \(self.topology.regions[$0].name)" }
                return
                    "step \(step) crosses regions, and \(names.joined(separator: ", ")) did not join again within \(JSONValue.format(limit)) s"
            })
    }

    var elastic: Bool { job.quorum != nil }

    /// A worker of the running job is dead. An elastic job above its quorum leaves it out (the
    /// next epoch goes on without it); otherwise, and below the quorum, the job stops with the
    /// reason. Returns whether the job goes on.
    func lose(_ index: Int, reason: String) -> Bool {
        guard let quorum = job.quorum, !membership.admitting, !membership.departed.contains(index) else {
            return false
        }
        let member = membership.workers[index]
        let now = clock.now()
        membership.depart(index)
        // Told, in case it is alive but cut off: a worker left out must not go on alone.
        try? send(.stop(.init(ok: false, reason: "left out of the job: \(reason)")), to: member.route)
        run.event(
            "worker_lost",
            [
                ("region", .string(member.join.region)), ("host", .int(member.join.host)),
                ("pid", .int(member.join.pid)), ("epoch", .int(epoch)), ("step", .int(max(steps.step, 0))),
                ("reason", .string(reason)),
            ])
        trace.membership("lost \(member.label)", at: now, args: [("reason", .string(reason))])
        faultLedger.lost(member.label, now: now)
        if let short = membership.shortOfQuorum(hosts: quorum.hosts, regions: quorum.regions) {
            failure = "\(reason); \(short)"
            return false
        }
        log.warning("\(reason); the job goes on without it")
        if let joining = elasticity.joining.firstIndex(of: index) {
            elasticity.joining.remove(at: joining)
        } else if positionInOrder[index] != nil {
            elasticity.lost.append(index)
            elasticity.recovering.append((member.label, now))
        }
        return true
    }

    /// A worker joined the running job in a free seat: it is taken in at the next step.
    func joined(_ index: Int) {
        let member = membership.workers[index]
        elasticity.joining.append(index)
        run.event(
            "worker_rejoined",
            [
                ("region", .string(member.join.region)), ("host", .int(member.join.host)),
                ("pid", .int(member.join.pid)), ("epoch", .int(epoch)),
            ])
        trace.membership("joined \(member.label)", at: clock.now())
        faultLedger.joined()
        log.info("\(member.label) joined the running job; it is taken in at the next step")
    }

    /// Carries the membership changes into a new epoch: the plan over the members now (ranks
    /// numbered anew in region and host order) to every worker and gateway, the planner and
    /// the model for it. Returns the state transfers that bring workers taken in up to date
    /// (training jobs; see `transfers`).
    func nextEpoch(step: Int) throws -> [ControlMessage.StateTransfer]? {
        let lost = elasticity.lost
        let joining = elasticity.joining.filter { !membership.departed.contains($0) }
        let survivors = order.filter { !membership.departed.contains($0) }
        elasticity.lost = []
        elasticity.joining = []
        elasticity.gatewaysBack = []
        elasticity.stepCut = false
        order = (survivors + joining).sorted {
            let a = membership.workers[$0]
            let b = membership.workers[$1]
            return (a.region, a.join.host) < (b.region, b.join.host)
        }
        epoch += 1
        let workers = planWorkers()
        guard let links = measuredLinks else { throw Abort(description: "a new epoch before the links were measured") }
        for gateway in membership.gateways.values {
            var message = planMessage(workers: workers, you: -1, lan: links.lan, wan: links.wan)
            message.gatewayHop = links.hop
            try send(.plan(message), to: gateway.route)
        }
        let plans = ControlMessage.PlanFrames(planMessage(workers: workers, you: 0, lan: links.lan, wan: links.wan))
        for index in order.indices { try send(frames: plans.frames(you: index), to: worker(index).route) }
        let layout = ClusterLayout(
            regions: topology.regions.map(\.name), devicesPerWorker: topology.regions[0].devicesPerHost,
            workers: workers)
        planner = ClusterPlanner(
            layout: layout, lan: LinkCost(links.lan), wan: LinkCost(links.wan), algo: job.algorithm,
            chunkBytes: job.chunkBytes)
        simulator = CollectiveSimulator(layout: layout, links: modelLinks, costs: modelCosts)
        steps = StepCollector(workers: order.count)
        let names = { (indices: [Int]) in JSONValue.array(indices.map { .string(self.membership.workers[$0].label) }) }
        run.event(
            "epoch",
            [
                ("epoch", .int(epoch)), ("step", .int(step)), ("workers", .int(order.count)),
                ("ranks", .int(layout.ranks)), ("lost", names(lost)), ("joined", names(joining)),
            ])
        trace.membership("epoch \(epoch): \(order.count) workers", at: clock.now())
        log.info(
            Logger.Message(
                stringLiteral:
                    "membership epoch \(epoch) at step \(step): \(order.count) workers, \(layout.ranks) ranks"
                    + (lost.isEmpty
                        ? "" : "; lost \(lost.map { membership.workers[$0].label }.joined(separator: ", "))")
                    + (joining.isEmpty
                        ? "" : "; joined \(joining.map { membership.workers[$0].label }.joined(separator: ", "))")))
        elasticity.unsynced.formUnion(joining.filter { !elasticity.holders.contains($0) })
        elasticity.holders = []
        guard job.kind == .train, let transfers = transfers(to: elasticity.unsynced) else { return nil }
        let devices = order.indices.map { worker($0).join.devices }
        // Joiners that start from θ_global are fresh from this step; those that take the state
        // of a worker that is itself fresh, from when it was.
        for transfer in transfers {
            let source = order.indices.first { firstRank(ofPosition: $0) == transfer.from }.map { order[$0] }
            let since = transfer.global == true ? step : source.flatMap { elasticity.freshSince[$0] }
            guard let since else { continue }
            for position in order.indices
            where transfer.to.contains(firstRank(ofPosition: position)) && devices[position] > 0 {
                elasticity.freshSince[order[position]] = since
            }
        }
        run.event(
            "state_transfer",
            [
                ("epoch", .int(epoch)), ("step", .int(step)),
                (
                    "transfers",
                    .array(
                        transfers.map {
                            .object([
                                ("from_rank", .int($0.from)), ("to_ranks", .array($0.to.map { .int($0) })),
                                ("global", .bool($0.global == true)),
                            ])
                        })
                ),
            ])
        return transfers
    }

    /// Who sends the workers taken in (`joiners`, indices into `membership.workers`) their state.
    /// DDP: every replica is alike, so the first rank that did not join. Schedules that
    /// synchronise inside regions every step and across them every H: replicas are alike only
    /// inside a region, so each joiner takes the first surviving rank of its own region; where
    /// none of its region is left, another region's first rank, and the joiners start again
    /// from the global parameters (the last outer synchronisation's, alike everywhere). Nil
    /// when nobody needs state, or nobody has it.
    func transfers(to joiners: Set<Int>) -> [ControlMessage.StateTransfer]? {
        let positions = order.indices.filter { joiners.contains(order[$0]) }
        let holders = order.indices.filter { !joiners.contains(order[$0]) }
        guard !positions.isEmpty, let anyone = holders.first else { return nil }
        let ranks = { (position: Int) in
            (0..<self.worker(position).join.devices).map { self.firstRank(ofPosition: position) + $0 }
        }
        let spec = job.training
        let regional = spec.map { spec in spec.schedules.contains { $0.sync != .ddp } } ?? false
        var transfers: [ControlMessage.StateTransfer] = []
        for position in positions {
            let region = worker(position).region
            let source =
                regional ? holders.first { worker($0).region == region } : anyone
            let from = firstRank(ofPosition: source ?? anyone)
            let global: Bool? = regional && source == nil ? true : nil
            if let index = transfers.firstIndex(where: { $0.from == from && $0.global == global }) {
                transfers[index].to += ranks(position)
            } else {
                transfers.append(.init(from: from, to: ranks(position), global: global))
            }
        }
        return transfers
    }

    /// An outer step `step` (over the whole job) after the last one: each rank's weight,
    /// the share of the interval's inner steps its pseudo-gradient covers, where a worker started
    /// again from θ_global in it; nil when every rank covers the whole interval.
    func outerWeights(step: Int) -> [Double]? {
        let lastOuter = elasticity.lastOuter
        let fresh = elasticity.freshSince.filter { order.contains($0.key) && $0.value > lastOuter }
        guard !fresh.isEmpty else { return nil }
        let interval = Double(max(step - lastOuter, 1))
        let weights = order.flatMap { index -> [Double] in
            let covered = fresh[index].map { Double(step + 1 - $0) / interval } ?? 1
            return Array(repeating: min(max(covered, 0), 1), count: membership.workers[index].join.devices)
        }
        // Back in time for the whole interval: every pseudo-gradient covers it.
        return weights.allSatisfy { $0 == 1 } ? nil : weights
    }

    /// The step that follows losses finished over the survivors: each loss is recovered from.
    func recovered(step: Int) {
        let now = clock.now()
        for loss in elasticity.recovering {
            let seconds = Double(now - loss.detectedAt) / 1e9
            run.event(
                "recovered",
                [
                    ("member", .string(loss.label)), ("epoch", .int(epoch)), ("step", .int(step)),
                    ("after_s", .double(seconds)),
                ])
            trace.membership("recovered from losing \(loss.label)", at: now, args: [("after_s", .double(seconds))])
            faultLedger.recovered(loss.label, now: now)
            log.info(
                "recovered from losing \(loss.label): step \(step) done over \(order.count) workers \(fixed(seconds, 2)) s after the loss was detected"
            )
        }
        elasticity.recovering = []
    }
}
