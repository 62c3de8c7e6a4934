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
        /// Losses whose recovery (the next step done over the survivors) is still to come:
        /// who, and when the loss was detected (monotonic nanoseconds).
        var recovering: [(label: String, detectedAt: Int64)] = []

        /// Whether the step in flight has to be given up: one of its workers is gone.
        var stepLost: Bool { !lost.isEmpty }
        var pending: Bool { !lost.isEmpty || !joining.isEmpty }
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
        log.info("\(member.label) joined the running job; it is taken in at the next step")
    }

    /// Carries the membership changes into a new epoch: the plan over the members now (ranks
    /// numbered anew in region and host order) to every worker and gateway, the planner and
    /// the model for it. Returns the state transfer that brings joining workers up to date:
    /// from the first surviving rank to every rank of a joiner (training jobs).
    func nextEpoch(step: Int) throws -> ControlMessage.StateTransfer? {
        let lost = elasticity.lost
        let joining = elasticity.joining.filter { !membership.departed.contains($0) }
        let survivors = order.filter { !membership.departed.contains($0) }
        elasticity.lost = []
        elasticity.joining = []
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
        elasticity.unsynced.formUnion(joining)
        let unsynced = elasticity.unsynced
        guard job.kind == .train, order.contains(where: unsynced.contains),
            let source = order.indices.first(where: { !unsynced.contains(order[$0]) })
        else { return nil }
        let devices = topology.regions[0].devicesPerHost
        let targets = order.indices.filter { unsynced.contains(order[$0]) }.flatMap { position in
            (0..<devices).map { position * devices + $0 }
        }
        run.event(
            "state_transfer",
            [
                ("epoch", .int(epoch)), ("step", .int(step)), ("from_rank", .int(source * devices)),
                ("to_ranks", .array(targets.map { .int($0) })),
            ])
        return .init(from: source * devices, to: targets)
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
            log.info(
                "recovered from losing \(loss.label): step \(step) done over \(order.count) workers \(fixed(seconds, 2)) s after the loss was detected"
            )
        }
        elasticity.recovering = []
    }
}
