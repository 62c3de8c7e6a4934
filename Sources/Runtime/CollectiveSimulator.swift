import Collectives
import Emulation

/// The model Straits' measurements are held against: the ranks' own schedules, run as a
/// discrete-event simulation over α-β costs. Messages inside a region cost `α + bytes·β` of the
/// LAN; messages between regions cost a hop to the sender's gateway, the WAN link itself (the
/// same `LinkModel` the gateway runs: the link's bandwidth, shared round-robin by the flows on
/// it, then its latency), and a hop on to the receiver; each rank reduces or copies what it
/// receives one message at a time at `γ` per byte. Because the schedules are the ones the
/// workers run, chunking and pipelining are modelled as they happen, not as a closed formula.
public struct CollectiveSimulator {
    public struct Costs: Sendable {
        /// Between two workers of one region, and between a worker and its gateway.
        public var lan: LinkCost
        /// Between two devices of one worker.
        public var local: LinkCost
        public var reduceSecondsPerByte: Double
        public var copySecondsPerByte: Double

        public init(lan: LinkCost, local: LinkCost = LinkCost(alphaSeconds: 5e-6, betaSecondsPerByte: 1 / 8e9),
                    reduceSecondsPerByte: Double = 1 / 6e9, copySecondsPerByte: Double = 1 / 10e9) {
            self.lan = lan
            self.local = local
            self.reduceSecondsPerByte = reduceSecondsPerByte
            self.copySecondsPerByte = copySecondsPerByte
        }
    }

    public let layout: ClusterLayout
    /// WAN links by (from region, to region); nil when traffic between regions is unshaped.
    public let links: [Int: [Int: LinkSpec]]?
    public let costs: Costs
    public let gatewayChunkBytes: Int

    public init(layout: ClusterLayout, links: [Int: [Int: LinkSpec]]?, costs: Costs, gatewayChunkBytes: Int = 64 << 10) {
        self.layout = layout
        self.links = links
        self.costs = costs
        self.gatewayChunkBytes = gatewayChunkBytes
    }

    /// Predicted seconds for the all-reduce `choice` of `bytes`: the shared-memory levels by
    /// their α-β cost, each message-passing phase by simulation, in sequence.
    public func predict(_ choice: ClusterPlanner.Choice, bytes: Int) -> Double {
        let count = bytes / 4
        let devices = layout.devicesPerWorker
        var phases: [[CollectiveSchedule]] = []
        for rank in 0..<layout.ranks {
            let device = rank % devices
            let rankPhases = ClusterCollective.phases(
                choice: choice, layout: layout, rank: rank, device: device, count: count,
                slice: ClusterCollective.slice(device: device, devices: devices, count: count))
            for (index, phase) in rankPhases.enumerated() {
                if phases.count <= index { phases.append([]) }
                phases[index].append(phase.schedule)
            }
        }
        var seconds = phases.reduce(0) { $0 + simulate($1) }
        if choice.hierarchical && devices > 1 {
            // Shared memory: each device sums its slice over the others, then copies the rest.
            let d = Double(devices), n = Double(bytes)
            seconds += 2 * costs.local.alphaSeconds + (d - 1) / d * n * costs.reduceSecondsPerByte
                + (d - 1) / d * n * costs.copySecondsPerByte
        }
        return seconds
    }

    private enum Event {
        case arrive(rank: Int, from: Int, tag: UInt64)
        case complete(rank: Int, operation: Int)
        /// A message reaches its region's gateway and joins the link's queue.
        case offer(message: Int, fromRegion: Int, toRegion: Int)
    }

    /// The time, in seconds, until the last rank finishes its schedule.
    public func simulate(_ schedules: [CollectiveSchedule]) -> Double {
        var runners = schedules.map { ScheduleRunner($0) }
        var cpuFree = [Int64](repeating: 0, count: schedules.count)
        var finish: Int64 = 0
        var events = EventQueue<Event>()
        var wan: [Int: [Int: LinkModel]] = [:]
        var inFlight: [Int: (rank: Int, from: Int, tag: UInt64, bytes: Int)] = [:]
        var nextMessage = 0
        if let links {
            for (from, targets) in links {
                for (to, spec) in targets {
                    wan[from, default: [:]][to] = LinkModel(spec: spec, chunkBytes: gatewayChunkBytes, queueLimitBytes: .max, seed: UInt64(from * 1000 + to + 1))
                }
            }
        }
        func nanos(_ seconds: Double) -> Int64 { Int64((seconds * 1e9).rounded()) }

        func perform(_ directives: [ScheduleRunner.Directive], rank: Int, at now: Int64) {
            for directive in directives {
                switch directive {
                case .send(let operation):
                    let peer = operation.kind.peer
                    let bytes = operation.range.count * 4 + 64
                    let (fromWorker, toWorker) = (layout.worker(ofRank: rank), layout.worker(ofRank: peer))
                    let (fromRegion, toRegion) = (layout.workers[fromWorker].region, layout.workers[toWorker].region)
                    if fromWorker == toWorker {
                        events.push(now + nanos(costs.local.alphaSeconds + Double(bytes) * costs.local.betaSecondsPerByte),
                                    .arrive(rank: peer, from: rank, tag: operation.tag))
                    } else if fromRegion == toRegion || wan[fromRegion]?[toRegion] == nil {
                        events.push(now + nanos(costs.lan.alphaSeconds + Double(bytes) * costs.lan.betaSecondsPerByte),
                                    .arrive(rank: peer, from: rank, tag: operation.tag))
                    } else {
                        let id = nextMessage
                        nextMessage += 1
                        inFlight[id] = (peer, rank, operation.tag, bytes)
                        let atGateway = now + nanos(costs.lan.alphaSeconds + Double(bytes) * costs.lan.betaSecondsPerByte)
                        events.push(atGateway, .offer(message: id, fromRegion: fromRegion, toRegion: toRegion))
                    }
                    // Sends are released at once (copied, or handed to the socket).
                    events.push(now, .complete(rank: rank, operation: operation.id))
                case .receive(let operation):
                    let bytes = Double(operation.range.count * 4)
                    let perByte = operation.kind == .receiveReduce(peer: operation.kind.peer) ? costs.reduceSecondsPerByte : costs.copySecondsPerByte
                    let start = max(now, cpuFree[rank])
                    let end = start + nanos(bytes * perByte)
                    cpuFree[rank] = end
                    events.push(end, .complete(rank: rank, operation: operation.id))
                }
            }
        }

        for rank in runners.indices { perform(runners[rank].start(), rank: rank, at: 0) }
        while true {
            // The earliest of: the next event, a WAN link's next move, an offer reaching a gateway.
            var linkTime: Int64?
            for targets in wan.values {
                for link in targets.values { if let t = link.nextEvent { linkTime = min(linkTime ?? t, t) } }
            }
            let eventTime = events.peekTime
            if let linkTime, eventTime == nil || linkTime < eventTime! {
                for from in wan.keys {
                    for to in wan[from]!.keys {
                        for delivery in wan[from]![to]!.advance(to: linkTime) {
                            let message = inFlight.removeValue(forKey: delivery.message)!
                            let arrival = delivery.dueAt + nanos(costs.lan.alphaSeconds + Double(message.bytes) * costs.lan.betaSecondsPerByte)
                            events.push(arrival, .arrive(rank: message.rank, from: message.from, tag: message.tag))
                        }
                    }
                }
                continue
            }
            guard let (now, event) = events.pop() else { break }
            finish = max(finish, now)
            switch event {
            case .arrive(let rank, let from, let tag):
                let directives = (try? runners[rank].messageArrived(from: from, tag: tag)) ?? []
                perform(directives, rank: rank, at: now)
            case .complete(let rank, let operation):
                perform(runners[rank].completed(operation), rank: rank, at: now)
            case .offer(let id, let fromRegion, let toRegion):
                let message = inFlight[id]!
                wan[fromRegion]![toRegion]!.offer(message: id, flow: message.from << 32 | message.rank, bytes: message.bytes, now: now)
            }
        }
        return Double(finish) / 1e9
    }
}

/// A min-heap of timed events; ties keep insertion order.
struct EventQueue<Element> {
    private var heap: [(time: Int64, order: Int, element: Element)] = []
    private var counter = 0

    var peekTime: Int64? { heap.first?.time }

    mutating func push(_ time: Int64, _ element: Element) {
        heap.append((time, counter, element))
        counter += 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (Int64, Element)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && Self.less(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && Self.less(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.time, top.element)
    }

    private static func less(_ a: (time: Int64, order: Int, element: Element), _ b: (time: Int64, order: Int, element: Element)) -> Bool {
        a.time < b.time || (a.time == b.time && a.order < b.order)
    }
}
