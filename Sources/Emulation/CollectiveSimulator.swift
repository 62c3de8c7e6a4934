import Collectives

/// The model Straits' measurements are held against: the ranks' own schedules, run as a
/// discrete-event simulation over α-β costs. Messages inside a region cost `α + bytes·β` of the
/// LAN; messages between regions cost a hop to the sender's gateway, the WAN link itself (the
/// same `LinkModel` the gateway runs: the link's bandwidth, shared round-robin by the flows on
/// it, then its latency, allowing for the hops at its ends as the gateways do), and a hop on to
/// the receiver; each rank reduces or copies what it receives one message at a time at `γ` per
/// byte. Because the schedules are the ones the workers run, chunking and pipelining are
/// modelled as they happen, not as a closed formula.
///
/// Where the cluster's processes share one machine (`Costs.cores`), what takes a core shares
/// the cores: the LAN is then the copies through the kernel, and a busy machine slows messages
/// and reductions alike, as it does the processes.
public struct CollectiveSimulator {
    public let layout: ClusterLayout
    /// WAN links by (from region, to region); nil when traffic between regions is unshaped.
    public let links: [Int: [Int: LinkSpec]]?
    public let costs: Costs
    public let gatewayChunkBytes: Int

    public init(layout: ClusterLayout, links: [Int: [Int: LinkSpec]]?, costs: Costs, gatewayChunkBytes: Int = 64 << 10)
    {
        self.layout = layout
        self.links = links
        self.costs = costs
        self.gatewayChunkBytes = gatewayChunkBytes
    }

    /// Predicted seconds for the all-reduce `choice` of `bytes`, measured as the cluster
    /// measures it: every rank runs the barrier that starts a step, then its own phases one
    /// after another (the devices of a worker meeting at the shared-memory levels), and the
    /// result is the makespan, from the first rank leaving its barrier to the last rank's end of
    /// its last phase (`Prediction.rankSeconds` has the slowest rank's own time). Ranks leave a
    /// barrier across slow links at different times, and that skew is part of what is measured,
    /// so it is part of what is predicted.
    public func predict(_ choice: ClusterPlanner.Choice, bytes: Int) -> Double {
        prediction(choice, bytes: bytes).seconds
    }

    /// `predict`, with how busy the cores are; `acrossRegions: false` leaves out the level
    /// between regions, as a training step that averages gradients inside each region does;
    /// `barrier: false` starts every rank at once, as a training step's buckets do (no barrier
    /// before them), where a bench step's barrier leaves ranks up to a latency apart.
    public func prediction(
        _ choice: ClusterPlanner.Choice, bytes: Int, acrossRegions: Bool = true, barrier: Bool = true
    ) -> Prediction {
        simulate(choice, bytes: bytes, acrossRegions: acrossRegions, barrier: barrier)
    }

    private func simulate(_ choice: ClusterPlanner.Choice, bytes: Int, acrossRegions: Bool, barrier withBarrier: Bool)
        -> Prediction
    {
        let count = bytes / 4
        var programs: [[CollectiveSchedule]] = []
        for rank in 0..<layout.ranks {
            let device = layout.device(ofRank: rank)
            let stream = choice.hierarchical ? layout.stream(device: device, rank: rank) : Array(0..<layout.ranks)
            var barrier = CollectiveSchedule(rank: rank, ranks: layout.ranks)
            if withBarrier { DisseminationBarrier.append(to: &barrier, group: stream) }
            let phases = ClusterCollective.phases(
                choice: choice, layout: layout, rank: rank, device: device, count: count,
                slice: ClusterCollective.slice(device: device, devices: layout.streams, count: count),
                acrossRegions: acrossRegions)
            programs.append([barrier] + phases.map(\.schedule))
        }
        var shared = (before: 0.0, after: 0.0)
        let devices = layout.devices.max() ?? 1
        if choice.hierarchical && devices > 1 {
            // Shared memory: each device sums its slice over the others; later copies the rest
            // (the largest worker's, which the others wait for).
            let d = Double(devices)
            let n = Double(bytes)
            shared = (
                costs.local.alphaSeconds + (d - 1) / d * n * costs.reduceSecondsPerByte,
                costs.local.alphaSeconds + (d - 1) / d * n * costs.copySecondsPerByte
            )
        }
        return run(programs, sharedBefore: shared.before, sharedAfter: shared.after)
    }

    /// The time of one schedule run alone by every rank, from a common start.
    public func simulate(_ schedules: [CollectiveSchedule]) -> Double {
        var barriers: [[CollectiveSchedule]] = []
        for schedule in schedules {
            barriers.append([CollectiveSchedule(rank: schedule.rank, ranks: schedule.ranks), schedule])
        }
        return run(barriers, sharedBefore: 0, sharedAfter: 0).seconds
    }

    private enum Event {
        case arrive(rank: Int, from: Int, tag: UInt64, phase: Int)
        /// A message of `bytes` payload reaches its rank's socket: with cores modelled, the rank's
        /// thread checks it before it counts as arrived.
        case land(rank: Int, from: Int, tag: UInt64, phase: Int, bytes: Int)
        case complete(rank: Int, operation: Int, phase: Int)
        /// A message joins a link's queue: the LAN (`fromRegion` -1) or a WAN link.
        case offer(message: Int, fromRegion: Int, toRegion: Int)
        /// A rank starts its next phase.
        case begin(rank: Int, phase: Int)
    }

    /// Runs each rank's program (a barrier, then phases in order) and returns the slowest
    /// rank's time from the end of its barrier to the end of its last phase. With
    /// `sharedBefore`/`sharedAfter`, the devices of a worker meet after the barrier and after
    /// the last phase, and spend that long in shared memory.
    private func run(_ programs: [[CollectiveSchedule]], sharedBefore: Double, sharedAfter: Double) -> Prediction {
        let ranks = programs.count
        var runners: [ScheduleRunner?] = Array(repeating: nil, count: ranks)
        var phase = [Int](repeating: -1, count: ranks)
        var held: [Int: [(from: Int, tag: UInt64, phase: Int)]] = [:]
        var cpuFree = [Int64](repeating: 0, count: ranks)
        var barrierEnd = [Int64](repeating: 0, count: ranks)
        var end = [Int64](repeating: 0, count: ranks)
        var waiting: [Int: [(rank: Int, time: Int64)]] = [:]
        var events = EventQueue<Event>()
        var wan: [Int: [Int: LinkModel]] = [:]
        /// Messages on a link; `hops` is what is left of their path after it (WAN links, by region pair).
        var inFlight:
            [Int: (rank: Int, from: Int, tag: UInt64, bytes: Int, phase: Int, hops: [(Int, Int)], sentAt: Int64)] = [:]
        // This machine's LAN (loopback TCP between processes) is one shared resource: every
        // message between workers, and to and from the gateways, crosses it at the measured rate.
        var lan = LinkModel(
            spec: LinkSpec(
                bitsPerSecond: 8 / max(costs.lan.betaSecondsPerByte, 1e-12), latencySeconds: costs.lan.alphaSeconds),
            chunkBytes: gatewayChunkBytes, queueLimitBytes: .max, seed: 99)
        var nextMessage = 0
        var wanArrivals = 0
        /// Zero-copy sends, by message: completed when the message's first hop has its bytes.
        var releasedAfterHop: [Int: (rank: Int, operation: Int, phase: Int)] = [:]
        if let links {
            for (from, targets) in links {
                for (to, spec) in targets {
                    var link = LinkModel(
                        spec: spec, chunkBytes: gatewayChunkBytes, queueLimitBytes: .max,
                        seed: UInt64(from * 1000 + to + 1))
                    link.hop = costs.gatewayHop.map { LinkModel.Hop($0) } ?? .none
                    wan[from, default: [:]][to] = link
                }
            }
        }
        func nanos(_ seconds: Double) -> Int64 { Int64((seconds * 1e9).rounded()) }
        var cpu = costs.cores.map { ProcessorSharing(cores: $0) }
        /// When the first rank left its barrier, and the work the cores had done by then.
        var firstStart: (time: Int64, work: Double)?
        /// Work on the cores: a message's trip between two processes (both ends' I/O threads),
        /// or on a rank's thread the checksum of a send, the check of a received message, and a
        /// reduction or copy.
        enum Work {
            case trip(message: Int)
            case send(rank: Int, operation: CollectiveSchedule.Operation, phase: Int)
            case check(rank: Int, from: Int, tag: UInt64, phase: Int)
            case receive(rank: Int, operation: Int, phase: Int)
        }
        // The kernel's copy per byte at each end: what a lone message's β leaves once the
        // checksums and the receiver's copy are taken out (the two ends copy at once); and the
        // wire time a lone message's α leaves once its processor time at both ends (two at once)
        // is taken out.
        let kernelCopy = max(
            costs.lan.betaSecondsPerByte - 2 * costs.checksumSecondsPerByte - costs.copySecondsPerByte,
            costs.lan.betaSecondsPerByte / 10)
        let tripAlpha = max(costs.lan.alphaSeconds - costs.messageSeconds / 2, 0)
        var jobs: [Int: Work] = [:]
        var nextJob = 0
        func schedule(_ work: Work, owner: Int, seconds: Double, parallelism: Double = 1, at now: Int64) {
            jobs[nextJob] = work
            cpu!.offer(job: nextJob, owner: owner, work: seconds * 1e9, parallelism: parallelism, now: now)
            nextJob += 1
        }
        /// A rank's thread, as an owner of work on the cores.
        func thread(_ rank: Int) -> Int { -1 - rank }
        /// Puts message `id` on the LAN (`hop` 0: from its sender; 1: on from the far gateway).
        func offerLAN(_ id: Int, from: Int, to: Int, bytes: Int, hop: Int, now: Int64) {
            if cpu != nil {
                // One connection's messages go one after another, each copied by both ends at once.
                schedule(
                    .trip(message: id), owner: (from << 32 | to) << 1 | hop,
                    seconds: 2 * Double(bytes) * kernelCopy + costs.messageSeconds, parallelism: 2, at: now)
            } else {
                lan.offer(message: id, flow: from << 32 | to, bytes: bytes, now: now)
            }
        }
        /// Sends `operation` of `rank`'s phase `sendPhase` on its way at `now`, and completes it:
        /// at once when its payload is copied (a small one, or to a device of the same worker),
        /// or, sent zero-copy to another process, once the first hop has taken its bytes, when
        /// libzmq releases the buffer (until then the rank may not go on past it).
        func launch(_ operation: CollectiveSchedule.Operation, rank: Int, phase sendPhase: Int, at now: Int64) {
            let peer = operation.kind.peer
            let bytes = operation.range.count * 4 + 64
            let (fromWorker, toWorker) = (layout.worker(ofRank: rank), layout.worker(ofRank: peer))
            let (fromRegion, toRegion) = (layout.workers[fromWorker].region, layout.workers[toWorker].region)
            let zeroCopy =
                costs.lanHops && fromWorker != toWorker && bytes - 64 > CollectiveSchedule.copyThresholdBytes
            if !zeroCopy { events.push(now, .complete(rank: rank, operation: operation.id, phase: sendPhase)) }
            if fromWorker == toWorker {
                let due = now + nanos(costs.local.alphaSeconds + Double(bytes) * costs.local.betaSecondsPerByte)
                events.push(
                    due,
                    cpu == nil
                        ? .arrive(rank: peer, from: rank, tag: operation.tag, phase: sendPhase)
                        : .land(rank: peer, from: rank, tag: operation.tag, phase: sendPhase, bytes: bytes - 64))
            } else {
                // LAN; or LAN to the gateway, the WAN link, LAN from the far gateway.
                let id = nextMessage
                nextMessage += 1
                let viaWAN = fromRegion != toRegion && wan[fromRegion]?[toRegion] != nil
                if viaWAN && sendPhase > 0 { wanArrivals += 1 }
                guard costs.lanHops || cpu != nil else {
                    if viaWAN {
                        inFlight[id] = (peer, rank, operation.tag, bytes, sendPhase, [], now)
                        events.push(now, .offer(message: id, fromRegion: fromRegion, toRegion: toRegion))
                    } else {
                        events.push(now, .arrive(rank: peer, from: rank, tag: operation.tag, phase: sendPhase))
                    }
                    return
                }
                let hops: [(Int, Int)] = viaWAN ? [(fromRegion, toRegion), (-1, -1)] : []
                inFlight[id] = (peer, rank, operation.tag, bytes, sendPhase, hops, now)
                if zeroCopy { releasedAfterHop[id] = (rank, operation.id, sendPhase) }
                offerLAN(id, from: rank, to: peer, bytes: bytes, hop: 0, now: now)
            }
        }

        func perform(_ directives: [ScheduleRunner.Directive], rank: Int, at now: Int64) {
            for directive in directives {
                switch directive {
                case .send(let operation):
                    if cpu != nil {
                        // The rank's thread checksums it, then hands it to the socket.
                        schedule(
                            .send(rank: rank, operation: operation, phase: phase[rank]), owner: thread(rank),
                            seconds: Double(operation.range.count * 4) * costs.checksumSecondsPerByte, at: now)
                    } else {
                        launch(operation, rank: rank, phase: phase[rank], at: now)
                    }
                case .receive(let operation):
                    let bytes = Double(operation.range.count * 4)
                    let perByte =
                        operation.kind == .receiveReduce(peer: operation.kind.peer)
                        ? costs.reduceSecondsPerByte : costs.copySecondsPerByte
                    if cpu != nil {
                        schedule(
                            .receive(rank: rank, operation: operation.id, phase: phase[rank]), owner: thread(rank),
                            seconds: bytes * perByte, at: now)
                    } else {
                        let start = max(now, cpuFree[rank])
                        cpuFree[rank] = start + nanos(bytes * perByte)
                        events.push(cpuFree[rank], .complete(rank: rank, operation: operation.id, phase: phase[rank]))
                    }
                }
            }
        }

        /// Rank `rank` has finished its current phase at `now`: on to the next, through the
        /// worker's shared-memory meeting where there is one.
        func finishPhase(_ rank: Int, at now: Int64) {
            let finished = phase[rank]
            let last = finished == programs[rank].count - 1
            if finished == 0 {
                barrierEnd[rank] = now
                if firstStart == nil, let cpu {
                    firstStart = (now, cpu.workDone)
                }
            }
            let meets = (finished == 0 && sharedBefore > 0) || (last && sharedAfter > 0)
            if meets {
                let worker = layout.worker(ofRank: rank)
                waiting[worker, default: []].append((rank, now))
                guard waiting[worker]!.count == layout.devices[worker] else { return }
                let met = waiting.removeValue(forKey: worker)!
                let time = met.map(\.time).max()! + nanos(last ? sharedAfter : sharedBefore)
                for member in met {
                    if last { end[member.rank] = time } else { events.push(time, .begin(rank: member.rank, phase: 1)) }
                }
                return
            }
            if last { end[rank] = now } else { events.push(now, .begin(rank: rank, phase: finished + 1)) }
        }

        func begin(_ rank: Int, _ next: Int, at now: Int64) {
            phase[rank] = next
            runners[rank] = ScheduleRunner(programs[rank][next])
            perform(runners[rank]!.start(), rank: rank, at: now)
            for message in held[rank] ?? [] where message.phase == next {
                perform(
                    (try? runners[rank]!.messageArrived(from: message.from, tag: message.tag)) ?? [], rank: rank,
                    at: now)
            }
            held[rank]?.removeAll { $0.phase == next }
            if runners[rank]!.isFinished { finishPhase(rank, at: now) }
        }

        for rank in 0..<ranks { events.push(0, .begin(rank: rank, phase: 0)) }
        while true {
            var linkTime: Int64? = cpu == nil ? lan.nextEvent : cpu!.nextCompletion
            for targets in wan.values {
                for link in targets.values { if let t = link.nextEvent { linkTime = min(linkTime ?? t, t) } }
            }
            if let linkTime, events.peekTime == nil || linkTime < events.peekTime! {
                /// A message off a link: on to its next hop, or arrived.
                func landed(_ delivery: LinkModel.Delivery) { landed(delivery.message, at: delivery.dueAt) }
                /// Completes the zero-copy send of message `id`, if it still waits for its first hop.
                func release(_ id: Int, at time: Int64) {
                    if let send = releasedAfterHop.removeValue(forKey: id) {
                        events.push(time, .complete(rank: send.rank, operation: send.operation, phase: send.phase))
                    }
                }
                func landed(_ id: Int, at due: Int64) {
                    release(id, at: due)
                    var message = inFlight[id]!
                    guard let hop = message.hops.first else {
                        inFlight[id] = nil
                        events.push(
                            due,
                            cpu == nil
                                ? .arrive(
                                    rank: message.rank, from: message.from, tag: message.tag, phase: message.phase)
                                : .land(
                                    rank: message.rank, from: message.from, tag: message.tag, phase: message.phase,
                                    bytes: message.bytes - 64))
                        return
                    }
                    message.hops.removeFirst()
                    inFlight[id] = message
                    events.push(due, .offer(message: id, fromRegion: hop.0, toRegion: hop.1))
                }
                if cpu != nil {
                    for done in cpu!.advance(to: linkTime) {
                        switch jobs.removeValue(forKey: done.job)! {
                        case .trip(let id):
                            // The bytes are across when the copies end; the message lands α later.
                            release(id, at: done.at)
                            landed(id, at: done.at + nanos(tripAlpha))
                        case .send(let rank, let operation, let phase):
                            launch(operation, rank: rank, phase: phase, at: done.at)
                        case .check(let rank, let from, let tag, let phase):
                            events.push(done.at, .arrive(rank: rank, from: from, tag: tag, phase: phase))
                        case .receive(let rank, let operation, let phase):
                            events.push(done.at, .complete(rank: rank, operation: operation, phase: phase))
                        }
                    }
                } else {
                    for delivery in lan.advance(to: linkTime) { landed(delivery) }
                }
                for from in wan.keys {
                    for to in wan[from]!.keys {
                        for delivery in wan[from]![to]!.advance(to: linkTime) { landed(delivery) }
                    }
                }
                continue
            }
            guard let (now, event) = events.pop() else { break }
            switch event {
            case .begin(let rank, let next):
                begin(rank, next, at: now)
            case .land(let rank, let from, let tag, let messagePhase, let bytes):
                schedule(
                    .check(rank: rank, from: from, tag: tag, phase: messagePhase), owner: thread(rank),
                    seconds: Double(bytes) * costs.checksumSecondsPerByte, at: now)
            case .arrive(let rank, let from, let tag, let messagePhase):
                if messagePhase != phase[rank] {
                    held[rank, default: []].append((from, tag, messagePhase))
                    continue
                }
                perform((try? runners[rank]!.messageArrived(from: from, tag: tag)) ?? [], rank: rank, at: now)
                if runners[rank]!.isFinished { finishPhase(rank, at: now) }
            case .complete(let rank, let operation, let operationPhase):
                guard operationPhase == phase[rank] else { continue }
                perform(runners[rank]!.completed(operation), rank: rank, at: now)
                if runners[rank]!.isFinished { finishPhase(rank, at: now) }
            case .offer(let id, let fromRegion, let toRegion):
                let message = inFlight[id]!
                if fromRegion < 0 {
                    offerLAN(id, from: message.from, to: message.rank, bytes: message.bytes, hop: 1, now: now)
                } else {
                    // The gateway knows when the sender sent it (its route frame says).
                    wan[fromRegion]![toRegion]!.offer(
                        message: id, flow: message.from << 32 | message.rank, bytes: message.bytes,
                        now: now, sentAt: message.sentAt)
                }
            }
        }
        var prediction = Prediction(
            seconds: Double((end.max() ?? 0) - (barrierEnd.min() ?? 0)) / 1e9, coresBusy: nil, wanArrivals: wanArrivals
        )
        prediction.rankSeconds = Double((0..<ranks).map { end[$0] - barrierEnd[$0] }.max() ?? 0) / 1e9
        if let cpu, let firstStart, let last = end.max(), last > firstStart.time {
            let capacity = cpu.cores * Double(last - firstStart.time)
            prediction.coresBusy = min((cpu.workDone - firstStart.work) / capacity, 1)
            prediction.coreSeconds = capacity / 1e9
        }
        return prediction
    }
}
