import ClusterCore
import Collectives
import Config
import Emulation
import Foundation
import Logging
import StraitsWire
import Telemetry
import Transport

extension Coordinator {
    /// What the plan rests on, for plan.json and the log.
    struct PlanFacts {
        var layout: ClusterLayout
        var calibration: LinkCalibration
        var links: LinkCalibration.Result
        /// The hop the gateways allow for (cut-through), nil without gateways or with it off.
        var gatewayHop: ControlMessage.LinkParameters?
        /// The uncontended hop the model takes: measured here, or pooled over a sweep's runs.
        var modelLAN: ControlMessage.LinkParameters
        var cores: HostCalibration?
        var messageSeconds: Double
        var pool: (file: String, runs: Int, own: CalibrationPool.Sample)?
    }

    /// Sends every member the plan, measures the links between workers, sends the measured
    /// plan, and sets up the planner and the model; writes plan.json.
    func plan() throws {
        order = membership.workers.indices.sorted {
            let a = membership.workers[$0]
            let b = membership.workers[$1]
            return (a.region, a.join.host) < (b.region, b.join.host)
        }
        let devices = topology.regions[0].devicesPerHost
        let workers = planWorkers()
        let unmeasured = ControlMessage.LinkParameters(
            alphaS: LinkCost.unmeasured.alphaSeconds, betaSPerByte: LinkCost.unmeasured.betaSecondsPerByte)
        jobText = job.kind == .train ? try String(contentsOfFile: options.jobPath, encoding: .utf8) : nil
        let gateways = membership.gateways
        func planMessage(_ you: Int, lan: ControlMessage.LinkParameters, wan: ControlMessage.LinkParameters)
            -> ControlMessage.Plan
        {
            self.planMessage(workers: workers, you: you, lan: lan, wan: wan)
        }
        for gateway in gateways.values {
            try send(.plan(planMessage(-1, lan: unmeasured, wan: unmeasured)), to: gateway.route)
        }
        let unmeasuredPlans = ControlMessage.PlanFrames(planMessage(0, lan: unmeasured, wan: unmeasured))
        for index in order.indices {
            try send(frames: unmeasuredPlans.frames(you: index), to: worker(index).route)
        }

        let layout = ClusterLayout(regions: topology.regions.map(\.name), devicesPerWorker: devices, workers: workers)
        var calibration = LinkCalibration(workersByRegion: layout.workersByRegion, gateways: !gateways.isEmpty)
        while let next = calibration.next { calibration.onProbed(try probe(next)) }
        let links = calibration.result
        // With a calibration pool (a sweep's), the model and the gateways use the median of every
        // run's measurement so far, this one's included (`CalibrationPool`).
        let pool = try options.calibrationPool.map { try CalibrationPool(path: $0) }
        var own = CalibrationPool.Sample(hopAlphaS: links.hop.alphaS, hopBetaSPerByte: links.hop.betaSPerByte)
        let uncontended =
            pool.map { pool in
                let pooled = pool.pooled(with: own)
                return ControlMessage.LinkParameters(alphaS: pooled.hopAlphaS!, betaSPerByte: pooled.hopBetaSPerByte!)
            } ?? links.hop
        // What the gateways allow for their own hops (cut-through), so that a hop slower than
        // that makes a message later than its link, never earlier.
        let hop: ControlMessage.LinkParameters? = gateways.isEmpty || !options.cutThrough ? nil : uncontended
        measuredLinks = (links.lan, links.wan, hop)
        if let hop {
            for gateway in gateways.values {
                var message = planMessage(-1, lan: links.lan, wan: links.wan)
                message.gatewayHop = hop
                try send(.plan(message), to: gateway.route)
            }
        }
        let measuredPlans = ControlMessage.PlanFrames(planMessage(0, lan: links.lan, wan: links.wan))
        for index in order.indices {
            try send(frames: measuredPlans.frames(you: index), to: worker(index).route)
        }

        let planner = ClusterPlanner(
            layout: layout, lan: LinkCost(links.lan), wan: LinkCost(links.wan), algo: job.algorithm,
            chunkBytes: job.chunkBytes)
        self.planner = planner
        // The model: the declared links when gateways shape them, the uncontended LAN for the rest.
        let declared = declaredLinks()
        var costs = CollectiveSimulator.Costs(lan: LinkCost(uncontended), gatewayHop: hop.map(LinkCost.init))
        // A local cluster's processes share this machine's cores: the model shares them too, at
        // what they measure here (the workers are idle now).
        let local =
            membership.workers.allSatisfy { $0.join.endpoints.allSatisfy(DataTransport.isLocal) }
            && gateways.values.allSatisfy { $0.join.endpoints.allSatisfy { $0.isEmpty || DataTransport.isLocal($0) } }
        var cores = local ? HostCalibration.measure() : nil
        var messageSeconds = 0.0
        if var measured = cores {
            // What a message costs the cores beyond its bytes, as the probes between two
            // processes measured it (the LAN pairs, or the direct hop).
            messageSeconds = links.cpuPerMessageS.isEmpty ? 0 : links.cpuPerMessageS.median
            own.cores = measured.cores
            own.reduceSPerByte = measured.reduceSecondsPerByte
            own.copySPerByte = measured.copySecondsPerByte
            own.checksumSPerByte = measured.checksumSecondsPerByte
            own.messageCPUS = messageSeconds
            if let pooled = pool?.pooled(with: own) {
                measured.cores = pooled.cores!
                measured.reduceSecondsPerByte = pooled.reduceSPerByte!
                measured.copySecondsPerByte = pooled.copySPerByte!
                measured.checksumSecondsPerByte = pooled.checksumSPerByte!
                messageSeconds = pooled.messageCPUS!
                cores = measured
            }
            costs.cores = measured.cores
            costs.reduceSecondsPerByte = measured.reduceSecondsPerByte
            costs.copySecondsPerByte = measured.copySecondsPerByte
            costs.checksumSecondsPerByte = options.checksums ? measured.checksumSecondsPerByte : 0
            costs.messageSeconds = messageSeconds
        }
        try pool?.record(own)
        simulator = CollectiveSimulator(layout: layout, links: declared, costs: costs)
        modelLinks = declared
        modelCosts = costs
        let facts = PlanFacts(
            layout: layout, calibration: calibration, links: links, gatewayHop: hop, modelLAN: uncontended,
            cores: cores, messageSeconds: messageSeconds,
            pool: pool.map { ($0.path, $0.earlier.count + 1, own) })
        run.write("plan.json", planFile(facts))
        run.event("plan", [("ranks", .int(layout.ranks)), ("workers", .int(order.count))])
        let sizes = job.kind == .bench ? job.benchSizes : [trainingBytes ?? job.gradientBytes]
        let lan = links.lan
        let wan = links.wan
        log.info(
            "plan: \(layout.ranks) ranks on \(order.count) workers; measured lan α \(fixed(lan.alphaS * 1e6, 1)) µs, \(fixed(1 / lan.betaSPerByte / 1e9, 2)) GB/s; wan α \(fixed(wan.alphaS * 1e6, 1)) µs, \(fixed(1 / wan.betaSPerByte / 1e9, 2)) GB/s; \(planner.choose(bytes: sizes.last!).description)"
        )
    }

    /// The plan's workers: `order`, ranks numbered from 0 in that order.
    func planWorkers() -> [ControlMessage.PlanWorker] {
        order.indices.map { index in
            var planned = ControlMessage.PlanWorker(
                worker: index, region: worker(index).region, host: worker(index).join.host,
                firstRank: rankStarts[index], endpoints: worker(index).join.endpoints)
            let devices = worker(index).join.devices
            if devices != topology.regions[0].devicesPerHost { planned.devices = devices }
            return planned
        }
    }

    /// The first rank of the worker at place `position` of the plan.
    func firstRank(ofPosition position: Int) -> Int { rankStarts[position] }

    /// The place in the plan of the worker that holds `rank`.
    func position(ofRank rank: Int) -> Int {
        (rankStarts.lastIndex { $0 <= rank }) ?? 0
    }

    /// The plan of the current epoch for `workers`, as worker `you` (-1: a gateway) receives it.
    func planMessage(
        workers: [ControlMessage.PlanWorker], you: Int, lan: ControlMessage.LinkParameters,
        wan: ControlMessage.LinkParameters
    ) -> ControlMessage.Plan {
        let gateways = membership.gateways
        let planGateways =
            gateways.isEmpty
            ? nil
            : gateways.keys.sorted().map {
                ControlMessage.PlanGateway(region: $0, endpoints: gateways[$0]!.join.endpoints)
            }
        let maxBytes = job.kind == .bench ? job.benchSizes.max() ?? job.maxBytes : trainingBytes ?? job.gradientBytes
        var plan = ControlMessage.Plan(
            epoch: epoch, you: you, regions: topology.regions.map(\.name),
            devicesPerWorker: topology.regions[0].devicesPerHost, workers: workers, algo: job.algorithm,
            chunkBytes: job.chunkBytes ?? 0, maxBytes: maxBytes, checksums: options.checksums,
            timeoutS: job.timeoutSeconds, lan: lan, wan: wan, gateways: planGateways, job: jobText)
        if elastic { plan.successorWaitS = options.successorWaitSeconds }
        return plan
    }

    /// Runs one link probe between two workers and waits for the lead's result.
    private func probe(_ probe: LinkCalibration.Probe) throws -> ControlMessage.LinkParameters {
        probed = nil
        let direct: Bool? = probe.direct ? true : nil
        try send(
            .probe(.init(peerWorker: probe.to, lead: true, collective: probe.collective, direct: direct)),
            to: worker(probe.from).route)
        try send(
            .probe(.init(peerWorker: probe.from, lead: false, collective: probe.collective, direct: direct)),
            to: worker(probe.to).route)
        try pump(
            until: { self.probed != nil }, deadline: clock.now() + 30_000_000_000,
            timeoutMessage: {
                "no probe result from worker \(probe.from) within 30 s"
            })
        return probed!.link
    }

    var wanPath: String {
        if topology.regions.count < 2 { return "one region: no WAN" }
        return membership.gateways.isEmpty
            ? "direct worker-to-worker sockets, unshaped (--no-gateways)"
            : "through each region's gateway, shaped to the topology's links"
    }
}

extension LinkCost {
    init(_ link: ControlMessage.LinkParameters) {
        self.init(alphaSeconds: link.alphaS, betaSecondsPerByte: link.betaSPerByte)
    }
}
