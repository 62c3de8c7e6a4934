import Collectives
import CStraitsShims
import Emulation
import Foundation
import NUMA
import StraitsWire
import Topology
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
        var links: [Int: LinkModel] = [:]
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
        /// A little after the last message sent on to a receiver that holds it arrives: the CPU
        /// latency request is held until then, for the receivers' wake-ups (letting it go makes
        /// idle CPUs halt, and a receiver whose timer is about to fire would then wake late).
        var heldUntil: Int64 = .min

        /// Holds the CPU latency request while `busy`, releases it otherwise; lock held.
        func keepCPUsAwake(_ busy: Bool) {
            guard let request = cpuLatency, request.isHeld != busy else { return }
            do {
                if busy { try request.hold() } else { try request.release() }
            } catch {
                FileHandle.standardError.write(Data("straits-gateway: \(error); the CPUs may halt between deliveries from now on\n".utf8))
                cpuLatency = nil
            }
        }
    }

    public init(options: GatewayOptions) throws {
        self.options = options
        topology = try ClusterTopology.load(path: options.topologyPath)
        guard let index = topology.regions.firstIndex(where: { $0.name == options.region }) else {
            throw RuntimeError("straits-gateway: topology \(topology.name) has no region \"\(options.region)\" (regions: \(topology.regions.map(\.name).joined(separator: ", ")))")
        }
        regionIndex = index
        state = State()
        context = try ZMQContext(ioThreads: 1)
        for (destination, region) in topology.regions.enumerated() where destination != index {
            let link = topology.link(from: options.region, to: region.name)!
            state.links[destination] = LinkModel(
                spec: link.spec,
                chunkBytes: options.chunkBytes, queueLimitBytes: options.queueBytes, seed: UInt64(index * 1000 + destination + 1))
            state.lateness[destination] = LatenessHistogram()
        }
    }

    private var name: String { "straits-gateway \(options.region)" }

    private func say(_ line: String) {
        FileHandle.standardError.write(Data("\(name): \(line)\n".utf8))
    }

    /// Monotonic nanoseconds.
    static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    /// Runs the gateway; 0 when the job finished, 1 on failure or abort, 3 when refused.
    public func run() -> Int32 {
        do {
            return try runThrowing()
        } catch {
            say("\(error)")
            return 1
        }
    }

    private func runThrowing() throws -> Int32 {
        // Ingress: one PULL per destination region, each read by its own thread.
        var endpoints = [String](repeating: "", count: topology.regions.count)
        var ingress: [Int: SocketBox] = [:]
        for destination in state.links.keys.sorted() {
            var pull = try ZMQSocket(.pull, context: context, linger: .zero)
            try pull.setReceiveHighWaterMark(64)
            try pull.setMaximumMessageSize((1 << 30) + 4096)
            endpoints[destination] = try pull.bind(options.transport.endpoint(address: options.bindAddress, name: "ingress\(destination)"))
            ingress[destination] = SocketBox(pull)
        }
        defer { for endpoint in endpoints { DataTransport.removeSocketFile(of: endpoint) } }
        var control = try ZMQSocket(.dealer, linger: .seconds(1))
        try control.connect(options.coordinator)
        try ControlLink.send(.join(.init(region: options.region, host: 0, devices: 0, numaNodes: 1, endpoints: endpoints,
                                         pid: Int(getpid()), role: "gateway")), on: &control)
        for link in topology.links where link.from == options.region {
            say("link → \(link.to): \(Units.formatRate(bitsPerSecond: link.bitsPerSecond)), \(Units.formatDuration(seconds: link.latencySeconds)) ± \(Units.formatDuration(seconds: link.jitterSeconds))\(link.burstBytes > 0 ? ", bucket \(link.burstBytes) bytes" : ""); ingress \(endpoints[topology.regions.firstIndex { $0.name == link.to }!])")
        }

        if let microseconds = options.cpuLatencyMicroseconds {
            do {
                state.cpuLatency = try CPULatencyRequest(microseconds: microseconds)
                say("while traffic is in flight, CPUs wake within \(microseconds) µs (\(CPULatencyRequest.defaultPath)\(microseconds == 0 ? ": idle CPUs poll instead of halting" : ""))")
            } catch {
                say("\(error): CPUs may halt between deliveries, and on a virtual machine wake late (--cpu-latency-us off silences this)")
            }
        }

        var threads: [Thread] = []
        for (destination, socket) in ingress {
            let thread = Thread { [state] in Gateway.ingressLoop(destination: destination, socket: socket, state: state) }
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
                Gateway.deliveryLoop(state: state, context: context, outboxes: outboxes, cpu: cpu, racers: deliveryThreads, label: "\(name): delivery thread \(k)")
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

        var watch = CoordinatorWatch(endpoint: options.coordinator, heartbeatSeconds: options.heartbeatSeconds,
                                     deadAfterSeconds: options.deadAfterSeconds, joinTimeoutSeconds: options.joinTimeoutSeconds)
        while true {
            if let failure = watch.failure() {
                say(failure)
                return 1
            }
            if let seq = watch.heartbeatDue() {
                try ControlLink.send(.heartbeat(.init(seq: seq, links: linkStats())), on: &control)
            }
            guard let frames = try ControlLink.receiveFrames(on: &control, timeout: watch.wait(cap: .milliseconds(200))) else { continue }
            guard let message = watch.accept(frames, who: name) else { continue }
            switch message {
            case .refuse(let refuse):
                say("refused by the coordinator: \(refuse.reason)")
                return 3
            case .plan(let plan):
                let layout = ClusterLayout(plan: plan)
                state.condition.lock()
                for rank in 0..<layout.ranks {
                    let worker = layout.worker(ofRank: rank)
                    state.endpoints[rank] = layout.workers[worker].endpoints[rank - layout.workers[worker].firstRank]
                    state.regionOfRank[rank] = layout.workers[worker].region
                }
                if let hop = plan.gatewayHop {
                    for destination in state.links.keys { state.links[destination]!.hop = LinkModel.Hop(hop) }
                }
                // Receivers hold messages only where they read this machine's clock.
                var holding: [String] = [], notHolding: [String] = []
                for destination in state.links.keys.sorted() {
                    let local = layout.workers.filter { $0.region == destination }.allSatisfy { $0.endpoints.allSatisfy(Self.isLocal) }
                    state.links[destination]!.receiverHolds = options.receiverHolds && local
                    if options.receiverHolds && local { holding.append(topology.regions[destination].name) }
                    if options.receiverHolds && !local { notHolding.append(topology.regions[destination].name) }
                }
                state.planned = true
                state.condition.broadcast()
                state.condition.unlock()
                if !holding.isEmpty {
                    say("receivers in \(holding.joined(separator: ", ")) hold each message until it arrives: it goes on as soon as its arrival time is settled")
                }
                if !notHolding.isEmpty {
                    say("receivers in \(notHolding.joined(separator: ", ")) are on other machines (their clocks are not this one): messages to them wait here until they arrive")
                }
                if let hop = plan.gatewayHop {
                    say("cut-through: links start a message when its sender sent it, and release it one hop (\(Units.formatDuration(seconds: hop.alphaS)) + bytes at \(fixed(1 / hop.betaSPerByte / 1e9, 2)) GB/s) before it arrives")
                }
            case .stop(let stop):
                // One last report of the counters, then go.
                try? ControlLink.send(.heartbeat(.init(seq: watch.sequence + 1, links: linkStats())), on: &control)
                say(stop.ok ? "job finished: \(stop.reason)" : "the coordinator stopped the job: \(stop.reason)")
                return stop.ok ? 0 : 1
            case .heartbeat:
                break
            default:
                watch.drop(name, "a \(message.kind) message is not for a gateway")
            }
        }
    }

    private func linkStats() -> [ControlMessage.LinkStats] {
        state.condition.lock()
        defer { state.condition.unlock() }
        return state.links.keys.sorted().map { destination in
            let link = state.links[destination]!
            let lateness = state.lateness[destination]!
            return ControlMessage.LinkStats(
                to: topology.regions[destination].name, offeredBytes: link.counters.offeredBytes,
                deliveredBytes: link.counters.deliveredBytes, queuedBytes: link.queuedBytes,
                deliveredMessages: link.counters.deliveredMessages, busyS: Double(link.counters.busy) / 1e9,
                queueDelaySSum: Double(link.counters.queueDelaySum) / 1e9, queueDelaySMax: Double(link.counters.queueDelayMax) / 1e9,
                lateP99Us: lateness.percentile(0.99), lateMaxUs: lateness.maxMicroseconds)
        }
    }

    /// Reads one link's ingress while its queue has room; each message goes into the link model.
    static func ingressLoop(destination: Int, socket: SocketBox, state: State) {
        // Real-time too (below the delivery thread): it holds the shared lock briefly, and must
        // not be preempted while the delivery thread waits for it.
        _ = straits_set_realtime(29)
        _ = straits_set_thread_name("gw-ingress")
        var rejected = 0
        while true {
            state.condition.lock()
            while !state.stopping && !(state.planned && state.links[destination]!.canAccept) {
                _ = state.condition.wait(until: Date(timeIntervalSinceNow: 0.1))
            }
            let stopping = state.stopping
            state.condition.unlock()
            if stopping { return }

            let received: Result<ZMQMessage, ZMQError> = Result { () throws(ZMQError) -> ZMQMessage in
                try socket.socket.blockingReceive(timeout: .milliseconds(100))
            }
            let message: ZMQMessage
            switch consume received {
            case .success(let got): message = got
            case .failure(let error):
                if error.code == .timedOut { continue }
                FileHandle.standardError.write(Data("straits-gateway: ingress: \(error)\n".utf8))
                return
            }
            // Frames: route, data header, payload.
            var reason: String?
            let receivedAt = now()
            var destinationRank = -1, sourceRank = -1
            var sentAt: Int64?
            if message.count != 3 {
                reason = "\(message.count) frames, expected 3 (route, header, payload)"
            } else if let route = message.withFrame(0, { GatewayRoute.parse($0) }) {
                destinationRank = route.destination
                sentAt = route.sentAt
                do {
                    let header = try message.withFrame(1) { try DataFrameHeader(decoding: $0) }
                    sourceRank = Int(header.sourceRank)
                } catch {
                    reason = "\(error)"
                }
            } else {
                reason = "no route frame (24 or 8 bytes, magic STRG)"
            }
            let bytes = message.count == 3 ? message.frameSize(1) + message.frameSize(2) : 0
            state.condition.lock()
            if reason == nil, state.regionOfRank[destinationRank] != destination {
                reason = "rank \(destinationRank) is not in the region this ingress serves"
            }
            if let reason {
                state.rejected += 1
                state.condition.unlock()
                rejected += 1
                if rejected <= 20 || rejected % 1000 == 0 {
                    FileHandle.standardError.write(Data("straits-gateway: dropped a message (\(rejected) so far): \(reason)\n".utf8))
                }
                continue
            }
            let id = state.nextMessage
            state.nextMessage += 1
            state.held[id] = Held(message, destination: destinationRank)
            state.links[destination]!.offer(message: id, flow: sourceRank << 32 | destinationRank, bytes: bytes, now: receivedAt, sentAt: sentAt)
            state.condition.broadcast()
            state.condition.unlock()
        }
    }

    /// The sockets that carry deliveries on to their ranks, one per rank, shared by the delivery
    /// threads: one thread sends at a time (a ZeroMQ socket may change threads across a lock),
    /// and batches go out in the order they were taken from the links.
    final class Outboxes: @unchecked Sendable {
        // Unchecked Sendable: `sockets` is only touched with `lock` held.
        let lock = NSLock()
        var sockets: [Int: SocketBox] = [:]
    }

    /// Sends each message on when the link model says it arrives.
    ///
    /// Each delivery thread runs this loop (several: each pinned to its own CPU); whichever gets
    /// to a delivery first takes it from the link under the shared lock and sends it. On a
    /// virtual machine a CPU now and then waits for its hypervisor for 0.1–3 ms, running or
    /// halted (a real-time thread spinning on each of the development machine's 2 CPUs lost the
    /// CPU for over 100 µs 0.3–2.3% of the time, but both CPUs at once 0–0.02%), so one thread
    /// is late at the 99th percentile by hundreds of microseconds, and two on two CPUs seldom.
    /// A second thread costs the ranks the cores it takes: it wakes for every offer and spins
    /// before every delivery too.
    ///
    /// A thread sleeps until the next chunk start (whose time the model keeps exactly, so a
    /// late wake-up there costs nothing) or until shortly before the next delivery, then spins
    /// for the rest. How early it wakes is what this machine's timer needs: the 99th percentile
    /// of its recent wake-up overshoots plus 10 µs (20 µs at least, 300 µs at most; the 90th
    /// where several threads race), so a precise host spins a few tens of microseconds and a
    /// virtual machine a little more. As it stops it logs its deliveries, wake-ups and CPU time.
    static func deliveryLoop(state: State, context: ZMQContext, outboxes: Outboxes, cpu: Int?, racers: Int, label: String) {
        _ = straits_set_timer_slack(1000)
        _ = straits_set_thread_name("gw-delivery")
        if let cpu { try? ThreadAffinity.pin(to: [cpu]) }
        // Wake on time even when every core is busy with ranks: real-time priority where the
        // process may have it (it sleeps between deliveries and spins only briefly).
        let realtime = straits_set_realtime(30)
        if realtime != 0 {
            FileHandle.standardError.write(Data("straits-gateway: delivery thread runs at normal priority (SCHED_FIFO: \(String(cString: strerror(realtime)))); deliveries may be late when the cores are busy\n".utf8))
        }
        var overshoot = OvershootWindow()
        if racers > 1 { overshoot.percentile = 90 }
        var wakes = 0, spun: Int64 = 0, delivered = 0
        while true {
            state.condition.lock()
            if state.stopping {
                state.condition.unlock()
                var spec = timespec()
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
                let cpu = Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
                FileHandle.standardError.write(Data("\(label): \(delivered) deliveries, \(wakes) wake-ups, \(fixed(cpu, 3)) s of CPU, of it \(fixed(Double(spun) / 1e9, 3)) s spinning; waking \(overshoot.early / 1000) µs early\n".utf8))
                return
            }
            let now = Gateway.now()
            var due: [(Int, Held, Int64, Int64)] = []
            var nextStart: Int64?, nextDelivery: Int64?, nextRelease: Int64?
            for destination in state.links.keys {
                let wasFull = !state.links[destination]!.canAccept
                let holds = state.links[destination]!.receiverHolds
                for delivery in state.links[destination]!.advance(to: now) {
                    if let held = state.held.removeValue(forKey: delivery.message) {
                        due.append((destination, held, delivery.dueAt, delivery.arrivesAt))
                        if holds { state.heldUntil = max(state.heldUntil, delivery.arrivesAt + 2_000_000) }
                    }
                }
                if wasFull && state.links[destination]!.canAccept { state.condition.broadcast() }
                if let start = state.links[destination]!.nextChunkStart { nextStart = min(nextStart ?? start, start) }
                if let arrival = state.links[destination]!.nextDelivery {
                    if holds { nextRelease = min(nextRelease ?? arrival, arrival) } else { nextDelivery = min(nextDelivery ?? arrival, arrival) }
                }
            }
            let receiversHolding = state.heldUntil > now
            state.keepCPUsAwake(!due.isEmpty || nextStart != nil || nextDelivery != nil || nextRelease != nil || receiversHolding)
            if due.isEmpty {
                let early = overshoot.early
                // Chunk starts are slept to directly: their times are computed, so a late
                // wake-up there costs nothing. So are releases to receivers that hold messages
                // until they arrive: a release comes before that by the link's latency at least,
                // and a late one costs nothing either. A delivery is approached: this machine's timer
                // wakes a core that went idle late, and the later the longer it slept, so it is
                // approached by halves (`OvershootWindow.approach`): only the last sleep aims at
                // the delivery less `early`, and what it overshoots is what `early` is measured on. (With the CPU latency request
                // held a wake-up is no later after 5 ms than after 200 µs, but sleeping straight
                // to the delivery, or to 250 µs before it, made deliveries later, with a fifth
                // of the wake-ups: `Benchmarks/gateway/run.sh`, four pairs, README.)
                var wake: Int64?
                var final = false
                let direct = [nextStart, nextRelease, receiversHolding ? state.heldUntil : nil].compactMap { $0 }.min()
                let deliveryWake = nextDelivery.map { $0 - early }
                if let direct, deliveryWake == nil || direct <= deliveryWake! {
                    wake = direct
                } else if let target = deliveryWake {
                    (wake, final) = OvershootWindow.approach(from: now, to: target)
                }
                if wake == nil || wake! > now {
                    // Idle: wait for an offer (at most 0.2 s, to notice stopping).
                    let seconds = wake.map { min(Double($0 - now) / 1e9, 0.2) } ?? 0.2
                    _ = state.condition.wait(until: Date(timeIntervalSinceNow: seconds))
                    let woke = Gateway.now()
                    wakes += 1
                    state.condition.unlock()
                    if final, let wake, woke >= wake { overshoot.record(woke - wake) }
                } else {
                    // Within `early` of a delivery: spin on the clock, lock released, never
                    // longer than `early` (a real-time thread must not hold a core for long).
                    state.condition.unlock()
                    if let nextDelivery {
                        let limit = min(nextDelivery, now + early)
                        var clock = Gateway.now()
                        while clock < limit { clock = Gateway.now() }
                        spun += clock - now
                    }
                }
                continue
            }
            let endpoints = due.map { state.endpoints[$0.1.destination] }
            // The send lock is taken before the shared one is let go, so that batches go out in
            // the order they were taken; it is let go before the shared one is taken again.
            outboxes.lock.lock()
            state.condition.unlock()
            var sent: [(destination: Int, late: Int64)] = []
            for ((destination, held, dueAt, arrivesAt), endpoint) in zip(due, endpoints) {
                let sentAt = Gateway.now()
                do {
                    try send(held, arrivesAt: arrivesAt, endpoint: endpoint, outboxes: outboxes, context: context)
                } catch {
                    FileHandle.standardError.write(Data("straits-gateway: delivery to rank \(held.destination) failed: \(error)\n".utf8))
                }
                sent.append((destination, sentAt - dueAt))
            }
            delivered += sent.count
            outboxes.lock.unlock()
            state.condition.lock()
            for (destination, late) in sent { state.lateness[destination]!.record(nanoseconds: late) }
            state.condition.unlock()
        }
    }

    /// Whether an endpoint is on this machine: ipc, inproc, or TCP on a loopback address.
    static func isLocal(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        let address = endpoint.dropFirst(6)
        return address.hasPrefix("127.") || address.hasPrefix("localhost:") || address.hasPrefix("[::1]:")
    }

    /// Sends one message on to its rank, its route frame replaced by an arrival frame; `outboxes.lock` held.
    private static func send(_ held: Held, arrivesAt: Int64, endpoint: String?, outboxes: Outboxes, context: ZMQContext) throws {
        guard var message = held.message.take() else { return }
        message.removeFirstFrame()
        message.prepend(GatewayRoute.arrivalFrame(destination: held.destination, arrivesAt: arrivesAt))
        if outboxes.sockets[held.destination] == nil {
            guard let endpoint else { throw RuntimeError("no endpoint for rank \(held.destination)") }
            var push = try ZMQSocket(.push, context: context, linger: .seconds(2))
            try push.setSendHighWaterMark(0)
            try push.connect(endpoint)
            outboxes.sockets[held.destination] = SocketBox(push)
        }
        let box = outboxes.sockets[held.destination]!
        if let blocked = try box.socket.trySend(message) {
            try box.socket.blockingSend(blocked, timeout: .seconds(30))
        }
    }
}
