import CStraitsShims
import Collectives
import Config
import Emulation
import Foundation
import Logging
import NUMA
import StraitsWire
import Transport
import ZeroMQ

/// `straits-gateway`: a region's outbound WAN. One ingress socket per outbound link takes the
/// region's workers' messages (a route frame, then the data message); the link model decides
/// when each arrives at the far end. A delivery thread sends it on with an arrival frame
/// carrying that time (`GatewayRoute`). Where the receiver is on this machine (`--hold
/// receiver`, the default) it goes as soon as that time is settled, and the receiving rank
/// holds it until then (`ScheduleExecutor`), so the trip from the gateway to the rank is off
/// the message's path; otherwise the thread sends it at that time less the trip, sleeping until
/// shortly before it and spinning the last few tens of microseconds.
/// While any link has traffic in flight the gateway holds a CPU latency request of 0 µs
/// (`CPULatencyRequest`), so that an idle CPU polls instead of halting and a delivery's wake-up
/// does not wait for a hypervisor to bring a halted CPU back. With `--delivery-threads 2`, two
/// delivery threads on two CPUs race to each delivery, so that a CPU its hypervisor holds back
/// while it runs does not hold the delivery back either.
/// Once the coordinator has measured what a hop between two processes costs here, the links
/// allow for the hops in (from the time on the route frame) and out (`LinkModel.Hop`), so that a
/// message crosses the emulated path in the link's time, as through a router, not in the link's
/// time plus two whole-message hops.
public final class Gateway {
    let options: GatewayOptions
    let topology: ClusterTopology
    let regionIndex: Int
    let state: State
    /// The gateway's own ZeroMQ context (its I/O thread carries the deliveries).
    let context: ZMQContext

    /// A received message waiting in a link, until its delivery time.
    final class Held: @unchecked Sendable {
        // Unchecked Sendable: filled by an ingress thread and emptied by the delivery thread,
        // both under `State.condition`'s lock.
        var message: ZMQMessage?
        let destination: Int

        init(_ message: consuming ZMQMessage, destination: Int) {
            self.message = consume message
            self.destination = destination
        }
    }

    /// Everything the threads share, guarded by `condition`'s lock.
    final class State: @unchecked Sendable {
        let condition = NSCondition()
        var scheduler = DeliveryScheduler()
        var lateness: [Int: LatenessHistogram] = [:]
        var held: [Int: Held] = [:]
        var nextMessage = 0
        var endpoints: [Int: String] = [:]
        var regionOfRank: [Int: Int] = [:]
        /// Whether the plan (ranks, their regions and endpoints) has come: until then the
        /// ingresses are not read, so a worker that got its plan first waits, losing nothing.
        var planned = false
        var stopping = false
        var rejected = 0
        /// Held while any link has traffic in flight, so that the CPUs do not halt under the
        /// delivery threads (see `CPULatencyRequest`); nil where the gateway may not ask.
        var cpuLatency: CPULatencyRequest?

        /// Holds the CPU latency request while `busy`, releases it otherwise; lock held.
        func keepCPUsAwake(_ busy: Bool) {
            guard let request = cpuLatency, request.isHeld != busy else { return }
            do {
                if busy { try request.hold() } else { try request.release() }
            } catch {
                Logger(label: "straits-gateway").warning("\(error); the CPUs may halt between deliveries from now on")
                cpuLatency = nil
            }
        }
    }

    public init(options: GatewayOptions) throws {
        self.options = options
        options.watch.injectClockOffset()
        topology = try ClusterTopology.load(path: options.topologyPath)
        guard let index = topology.regions.firstIndex(where: { $0.name == options.region }) else {
            throw RuntimeError(
                .invalidArgument,
                "straits-gateway: topology \(topology.name) has no region \"\(options.region)\" (regions: \(topology.regions.map(\.name).joined(separator: ", ")))"
            )
        }
        regionIndex = index
        state = State()
        context = try ZMQContext(ioThreads: 1)
        try options.security.apply(
            bindsOffLoopback: options.bind.offLoopback, contexts: [.shared, context],
            log: Logger(label: "straits-gateway \(options.region)"))
        for (destination, region) in topology.regions.enumerated() where destination != index {
            let link = topology.link(from: options.region, to: region.name)!
            state.scheduler.links[destination] = LinkModel(
                spec: link.spec,
                chunkBytes: options.chunkBytes, queueLimitBytes: options.queueBytes,
                seed: UInt64(index * 1000 + destination + 1))
            state.lateness[destination] = LatenessHistogram()
        }
    }

    private var name: String { "straits-gateway \(options.region)" }

    /// This gateway's log (`straits-gateway <region>: ...`).
    var log: Logger { Logger(label: name) }

    /// Runs the gateway; 0 when the job finished, 1 on failure or abort, 3 when refused.
    public func run() -> Int32 {
        do {
            return try runThrowing()
        } catch {
            log.info("\(error)")
            return 1
        }
    }

    private func runThrowing() throws -> Int32 {
        // Ingress: one PULL per destination region, each read by its own thread.
        var endpoints = [String](repeating: "", count: topology.regions.count)
        var ingress: [Int: SocketBox] = [:]
        for destination in state.scheduler.links.keys.sorted() {
            var pull = try ZMQSocket(.pull, context: context, linger: .zero)
            try LinkSecurity.server(&pull)
            try pull.setReceiveHighWaterMark(64)
            // A route frame, a header and a payload: no part larger than a data plane takes.
            try pull.setMaximumMessageSize(DataPlane.maximumPartBytes)
            endpoints[destination] = DataTransport.advertised(
                try pull.bind(
                    options.bind.transport.endpoint(address: options.bind.address, name: "ingress\(destination)")),
                address: options.bind.advertiseAddress)
            ingress[destination] = SocketBox(pull)
        }
        defer { for endpoint in endpoints { DataTransport.removeSocketFile(of: endpoint) } }
        var control = try ZMQSocket(.dealer, linger: .seconds(1))
        try LinkSecurity.client(&control)
        try control.connect(options.coordinator)
        var join = ControlMessage.Join(
            region: options.region, host: 0, devices: 0, numaNodes: 1, endpoints: endpoints, pid: Int(getpid()),
            role: "gateway")
        join.job = options.watch.jobID
        try ControlLink.send(.join(join), on: &control)
        for link in topology.links where link.from == options.region {
            log.info(
                "link → \(link.to): \(Units.formatRate(bitsPerSecond: link.bitsPerSecond)), \(Units.formatDuration(seconds: link.latencySeconds)) ± \(Units.formatDuration(seconds: link.jitterSeconds))\(link.burstBytes > 0 ? ", bucket \(link.burstBytes) bytes" : ""); ingress \(endpoints[topology.regions.firstIndex { $0.name == link.to }!])"
            )
        }

        if let microseconds = options.cpuLatencyMicroseconds {
            do {
                state.cpuLatency = try CPULatencyRequest(microseconds: microseconds)
                log.info(
                    "while traffic is in flight, CPUs wake within \(microseconds) µs (\(CPULatencyRequest.defaultPath)\(microseconds == 0 ? ": idle CPUs poll instead of halting" : ""))"
                )
            } catch {
                log.info(
                    "\(error): CPUs may halt between deliveries, and on a virtual machine wake late (--cpu-latency-us off silences this)"
                )
            }
        }

        var threads: [Thread] = []
        for (destination, socket) in ingress {
            let thread = Thread { [state] in Gateway.ingressLoop(destination: destination, socket: socket, state: state)
            }
            thread.name = "ingress → \(topology.regions[destination].name)"
            threads.append(thread)
        }
        // One delivery thread goes where the scheduler puts it. Several race to each delivery,
        // each pinned to a CPU of its own: region i's first on the i-th CPU this process may
        // use, the others spread evenly from there.
        let cpus = (try? ThreadAffinity.current()) ?? []
        let deliveryThreads = max(1, min(options.deliveryThreads, cpus.count))
        let outboxes = Outboxes()
        // The delivery threads say what they cost as they stop; the gateway waits for that.
        let deliveriesStopped = DispatchGroup()
        for k in 0..<deliveryThreads {
            let cpu = deliveryThreads == 1 ? nil : cpus[(regionIndex + k * (cpus.count / deliveryThreads)) % cpus.count]
            deliveriesStopped.enter()
            let delivery = Thread { [state, context, name] in
                Gateway.deliveryLoop(
                    state: state, context: context, outboxes: outboxes, cpu: cpu, racers: deliveryThreads,
                    label: "\(name): delivery thread \(k)")
                deliveriesStopped.leave()
            }
            threads.append(delivery)
        }
        for thread in threads { thread.start() }
        defer {
            state.condition.lock()
            state.stopping = true
            state.condition.broadcast()
            state.condition.unlock()
            _ = deliveriesStopped.wait(timeout: .now() + .milliseconds(500))
        }

        /// The membership epoch of the latest plan (0 before the first).
        var planEpoch = 0
        var watch = CoordinatorWatch(
            endpoint: options.coordinator, heartbeatSeconds: options.heartbeatSeconds,
            deadAfterSeconds: options.deadAfterSeconds, joinTimeoutSeconds: options.joinTimeoutSeconds)
        while true {
            if let failure = watch.failure() {
                log.error("\(failure)")
                return 1
            }
            try watch.joinSuccessorIfDue(join, epoch: planEpoch, on: &control, log: log)
            if let seq = watch.heartbeatDue() {
                try ControlLink.send(.heartbeat(.init(seq: seq, links: linkStats())), on: &control)
            }
            guard let frames = try watch.receive(on: &control, timeout: watch.wait(cap: .milliseconds(200))) else {
                continue
            }
            guard let message = watch.accept(frames, who: name) else { continue }
            switch message {
            case .refuse(let refuse):
                log.info("refused by the coordinator: \(refuse.reason)")
                return 3
            case .plan(let plan):
                let layout = ClusterLayout(plan: plan)
                planEpoch = max(planEpoch, plan.epoch)
                watch.successorWait = plan.successorWaitS.map { .milliseconds(Int($0 * 1000)) }
                state.condition.lock()
                let before = state.endpoints
                state.endpoints = [:]
                state.regionOfRank = [:]
                for rank in 0..<layout.ranks {
                    let worker = layout.worker(ofRank: rank)
                    state.endpoints[rank] = layout.workers[worker].endpoints[rank - layout.workers[worker].firstRank]
                    state.regionOfRank[rank] = layout.workers[worker].region
                }
                // A new membership epoch numbers ranks anew: a rank whose endpoint changed gets a
                // new connection (messages queued for its old one are the given-up epoch's).
                outboxes.lock.lock()
                for rank in Array(outboxes.sockets.keys) where state.endpoints[rank] != before[rank] {
                    outboxes.sockets[rank] = nil
                }
                outboxes.lock.unlock()
                if plan.epoch > 1 {
                    log.info("membership epoch \(plan.epoch): \(layout.workers.count) workers, \(layout.ranks) ranks")
                }
                if let hop = plan.gatewayHop {
                    for destination in state.scheduler.links.keys {
                        state.scheduler.links[destination]!.hop = LinkModel.Hop(hop)
                    }
                }
                // Arrival frames carry cluster time, which every rank converts to its own clock
                // (`ClockSync`), so receivers hold wherever they run.
                for destination in state.scheduler.links.keys {
                    state.scheduler.links[destination]!.receiverHolds = options.receiverHolds
                }
                state.planned = true
                state.condition.broadcast()
                state.condition.unlock()
                log.info(
                    options.receiverHolds
                        ? "receivers hold each message until it arrives: it goes on as soon as its arrival time is settled"
                        : "messages wait here until they arrive, less the trip to their rank")
                if let hop = plan.gatewayHop {
                    log.info(
                        "cut-through: links start a message when its sender sent it, and release it one hop (\(Units.formatDuration(seconds: hop.alphaS)) + bytes at \(fixed(1 / hop.betaSPerByte / 1e9, 2)) GB/s) before it arrives"
                    )
                }
            case .stop(let stop):
                // One last report of the counters, then go.
                try? ControlLink.send(.heartbeat(.init(seq: watch.sequence + 1, links: linkStats())), on: &control)
                if stop.ok {
                    log.info("job finished: \(stop.reason)")
                } else {
                    log.error("the coordinator stopped the job: \(stop.reason)")
                }
                return stop.ok ? 0 : 1
            case .heartbeat:
                try watch.measureClockOnce(on: &control, options: options.watch, log: log)
            case .clock:
                break  // a late answer to a clock measurement
            case .fault(let fault):
                applyFault(fault)
            case .kill(let kill):
                log.error("killed by fault \(kill.fault) of the job: \(kill.reason)")
                Foundation.kill(getpid(), SIGKILL)
            default:
                watch.drop(name, "a \(message.kind) message is not for a gateway")
            }
        }
    }

    /// Carries out a fault of the job on the link to `fault.to`: dark, back up, degraded, or
    /// as the topology declares it again. The delivery threads are woken to see it.
    private func applyFault(_ fault: ControlMessage.Fault) {
        guard let destination = topology.regions.firstIndex(where: { $0.name == fault.to }),
            destination != regionIndex, let declared = topology.link(from: options.region, to: fault.to)?.spec
        else {
            log.warning("a fault for a link to \(fault.to.debugDescription), which this gateway does not have")
            return
        }
        let now = SystemClock.shared.now()
        state.condition.lock()
        switch fault.state {
        case .down:
            state.scheduler.links[destination]!.setDown(true, now: now)
        case .up:
            state.scheduler.links[destination]!.setDown(false, now: now)
        case .degraded:
            var spec = declared
            if let rate = fault.bandwidthBps { spec.bitsPerSecond = rate }
            if let latency = fault.latencyS {
                spec.latencySeconds = latency
                spec.jitterSeconds = min(spec.jitterSeconds, latency)
            }
            state.scheduler.links[destination]!.setSpec(spec)
        case .restored:
            state.scheduler.links[destination]!.setSpec(declared)
        }
        state.condition.broadcast()
        state.condition.unlock()
        var what = "link → \(fault.to): \(fault.state.rawValue)"
        if let rate = fault.bandwidthBps { what += ", \(Units.formatRate(bitsPerSecond: rate))" }
        if let latency = fault.latencyS { what += ", \(Units.formatDuration(seconds: latency))" }
        log.info("\(what) (a fault of the job)")
    }

    private func linkStats() -> [ControlMessage.LinkStats] {
        state.condition.lock()
        defer { state.condition.unlock() }
        return state.scheduler.links.keys.sorted().map { destination in
            let link = state.scheduler.links[destination]!
            let lateness = state.lateness[destination]!
            return ControlMessage.LinkStats(
                to: topology.regions[destination].name, offeredBytes: link.counters.offeredBytes,
                deliveredBytes: link.counters.deliveredBytes, queuedBytes: link.queuedBytes,
                deliveredMessages: link.counters.deliveredMessages, busyS: Double(link.counters.busy) / 1e9,
                queueDelaySSum: Double(link.counters.queueDelaySum) / 1e9,
                queueDelaySMax: Double(link.counters.queueDelayMax) / 1e9,
                lateP99Us: lateness.percentile(0.99), lateMaxUs: lateness.maxMicroseconds)
        }
    }
}
