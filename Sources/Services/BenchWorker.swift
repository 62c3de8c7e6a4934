import Collectives
import Foundation
import NUMA
import StraitsWire
import Synchronization
import Transport
import ZeroMQ

/// One worker process of `straits bench allreduce`: `D` device threads, pinned across the NUMA
/// nodes, each a rank with its own data-plane sockets and a node-local buffer.
///
/// Messages to and from the launcher over a DEALER: `BenchMessage`, versioned
/// (`Protocols/bench-launcher.md`).
public struct BenchWorker {
    let options: BenchOptions
    let worker: Int
    let controlEndpoint: String

    public init(options: BenchOptions, worker: Int, controlEndpoint: String) {
        self.options = options
        self.worker = worker
        self.controlEndpoint = controlEndpoint
    }

    /// What the device threads share.
    final class Shared: Sendable {
        let endpoints = Mutex<[Int: [String]]>([:])
        let table = Mutex<[String]>([])
        let times = Mutex<[Int: [Double]]>([:])
        let wrong = Mutex<[Int: Int]>([:])
        let failure = Mutex<String?>(nil)
    }

    public func run() throws {
        if let keys = options.keys {
            try LinkSecurity.enable(try ClusterKeys.load(directory: keys), label: "straits bench-worker \(worker)")
        }
        let devices = options.devicesPerWorker
        let topology = try NUMATopology.discover()
        let group = try DeviceGroup(devices: devices, elementCount: options.maxBytes / 4, topology: topology)
        let shared = Shared()
        let options = self.options
        let worker = self.worker
        // The launcher's DEALER is made here, before the device threads pin themselves to a core
        // each: libzmq starts its I/O thread with the first socket, and that thread takes the
        // affinity of the thread that makes it, so it stays free to run on any core.
        var dealer = try ZMQSocket(.dealer, linger: .seconds(1))
        try LinkSecurity.client(&dealer)
        try dealer.connect(controlEndpoint)
        let control = SocketBox(dealer)
        let done = DispatchGroup()
        for device in 0..<devices {
            done.enter()
            Thread {
                defer { done.leave() }
                do {
                    try BenchWorker.device(
                        device, worker: worker, options: options, control: device == 0 ? control : nil, group: group,
                        shared: shared)
                } catch {
                    shared.failure.withLock { $0 = $0 ?? "worker \(worker) device \(device): \(error)" }
                    group.abort("worker \(worker) device \(device) failed: \(error)")
                }
            }.start()
        }
        done.wait()
        if let failure = shared.failure.withLock({ $0 }) { throw RuntimeError(.peerFailed, failure) }
    }

    static func device(
        _ device: Int, worker: Int, options: BenchOptions, control: SocketBox?, group: DeviceGroup, shared: Shared
    ) throws {
        let devices = options.devicesPerWorker
        let workers = options.workers
        let rank = worker * devices + device
        let timeout = Duration.seconds(options.timeoutSeconds)
        try group.pin(device: device)

        let plane = try BenchTransport(
            transport: options.transport, rank: rank, worker: worker, device: device, devices: devices,
            ranksOnHost: options.ranks,
            curve: options.keys != nil, sharedBufferBytes: options.sharesBuffers ? max(options.maxBytes, 4) : nil)
        shared.endpoints.withLock { $0[device] = plane.endpoints }

        try group.synchronize(timeout: timeout, what: "bind")
        if let control {
            let mine = shared.endpoints.withLock { endpoints in (0..<devices).map { endpoints[$0]![0] } }
            try send(control, .hello(.init(worker: worker, endpoints: mine)))
            guard case .table(let table) = try receive(control, timeout: timeout),
                table.endpoints.count == options.ranks
            else {
                throw RuntimeError(.protocolViolation, "expected the launcher's table of \(options.ranks) endpoints")
            }
            shared.table.withLock { $0 = table.endpoints }
        }
        try group.synchronize(timeout: timeout, what: "table")
        let table = shared.table.withLock { $0 }
        let local = shared.endpoints.withLock { $0 }
        for peer in 0..<options.ranks where peer != rank {
            let sameWorker = peer / devices == worker
            try plane.connect(peer: peer, remote: table[peer], local: sameWorker ? local[peer % devices]!.last! : nil)
        }

        // α and β of the link between workers, measured between worker 0 and worker 1.
        var collective: UInt64 = 1
        if workers > 1 && device == 0 && worker <= 1 {
            let link = try probe(
                plane: plane, rank: rank, peer: worker == 0 ? devices : 0, ranks: options.ranks,
                buffer: group.base(0), elements: group.elementCount, collective: &collective, timeout: timeout
            ).link
            if worker == 0, let control {
                try send(control, .probed(.init(alphaS: link.alphaSeconds, betaSPerByte: link.betaSecondsPerByte)))
            }
        }
        // Every worker waits for the launcher's word that the probe is over before it calibrates.
        if let control {
            guard case .params = try receive(control, timeout: timeout) else {
                throw RuntimeError(.protocolViolation, "expected the launcher's link parameters")
            }
        }
        try group.synchronize(timeout: timeout, what: "probe")
        let run = BenchIterations(
            plane: plane, group: group, worker: worker, device: device, workers: workers, devices: devices,
            timeout: timeout, collective: 1000)
        let calibration = BenchCalibration.Sweep(
            run, maxBytes: options.maxBytes, forced: options.algorithm, chunkBytes: options.chunkBytes)

        for size in options.sizes {
            let count = size / 4
            let plan = try calibration.planner(for: size).plan(bytes: size, chunkBytes: options.chunkBytes)
            let times = try run.time(
                plan, count: count, iterations: options.iterations, warmup: options.warmupIterations)
            let wrong = options.check ? ExactPattern.countWrong(run.buffer, count: count, ranks: options.ranks) : 0
            shared.times.withLock { $0[device] = times }
            shared.wrong.withLock { $0[device] = wrong }
            try group.synchronize(timeout: timeout, what: "results")
            if let control {
                let all = shared.times.withLock { $0 }
                let slowest = (0..<times.count).map { iteration in (0..<devices).map { all[$0]![iteration] }.max()! }
                let wrongTotal = shared.wrong.withLock { $0.values.reduce(0, +) }
                try send(
                    control,
                    .result(.init(sizeBytes: size, wrong: wrongTotal, plan: plan.description, seconds: slowest)))
            }
            try group.synchronize(timeout: timeout, what: "next size")
        }
        if worker == 0, let control { try send(control, .calibrated(.init(lines: calibration.planner.summary))) }
        if let control {
            guard case .bye = try receive(control, timeout: timeout) else {
                throw RuntimeError(.protocolViolation, "expected the launcher's bye")
            }
        }
        try group.synchronize(timeout: timeout, what: "finish")
    }

    /// What a probe measures: the link's α and β, and what a message costs the cores of the
    /// processes at its two ends beyond its bytes (the median processor time of a ping-pong on
    /// the lead's side: one message sent and one received; every thread of the process counts,
    /// its libzmq I/O thread too).
    struct ProbeResult {
        var link: LinkCost
        var cpuPerMessageSeconds: Double
    }

    /// Ping-pong of 4-byte messages (α = half the fastest round trip, and the median processor
    /// time of each), then 4 MiB one way with a 4-byte reply (β from what is left of the fastest).
    static func probe(
        plane: BenchTransport, rank: Int, peer: Int, ranks: Int, buffer: UnsafeMutableRawPointer,
        elements: Int, collective: inout UInt64, timeout: Duration
    ) throws -> ProbeResult {
        let leader = rank < peer
        /// The leader's decision to stop, shared with the peer (one 1-element message: 1 stop, 0 go on).
        func agree(_ stop: Bool) throws -> Bool {
            var schedule = CollectiveSchedule(rank: rank, ranks: ranks)
            let flag = buffer.assumingMemoryBound(to: Float.self)
            if leader {
                flag.pointee = stop ? 1 : 0
                schedule.add(.send(peer: peer), ElementRange(offset: 0, count: 1), tag: 3)
            } else {
                schedule.add(.receiveCopy(peer: peer), ElementRange(offset: 0, count: 1), tag: 3)
            }
            try plane.run(schedule, buffer: buffer, elementCount: 1, collectiveID: collective, timeout: timeout)
            collective += 1
            return flag.pointee == 1
        }
        func exchange(_ count: Int) throws -> Double {
            var schedule = CollectiveSchedule(rank: rank, ranks: ranks)
            let range = ElementRange(offset: 0, count: count)
            let reply = ElementRange(offset: 0, count: 1)
            if leader {
                schedule.add(.send(peer: peer), range, tag: 1)
                schedule.add(.receiveCopy(peer: peer), reply, tag: 2, after: [0])
            } else {
                schedule.add(.receiveCopy(peer: peer), range, tag: 1)
                schedule.add(.send(peer: peer), reply, tag: 2, after: [0])
            }
            let start = ContinuousClock.now
            try plane.run(schedule, buffer: buffer, elementCount: count, collectiveID: collective, timeout: timeout)
            collective += 1
            let elapsed = ContinuousClock.now - start
            return elapsed.inSeconds
        }
        // Up to 30 pings and 20 bulk transfers, fewer over a slow link: the leader stops a phase
        // once it has spent half a second and has 5 pings or 2 transfers, and tells the peer so
        // by the size of its next message (a 1-element message ends the bulk phase).
        var small: [Double] = []
        var processor: [Double] = []
        let pingStart = ContinuousClock.now
        for index in 0..<30 {
            let before = processSeconds()
            small.append(try exchange(1))
            processor.append(processSeconds() - before)
            let enough = index >= 4 && ContinuousClock.now - pingStart > .milliseconds(500)
            if try agree(enough) { break }
        }
        let bulkElements = min(elements, 1 << 20)
        var bulk: [Double] = []
        if bulkElements > 1024 {
            let bulkStart = ContinuousClock.now
            for index in 0..<20 {
                bulk.append(try exchange(bulkElements))
                let enough = index >= 1 && ContinuousClock.now - bulkStart > .milliseconds(500)
                if try agree(enough) { break }
            }
        }
        // The fastest of each: interference only slows an exchange down, and so does a first
        // bulk transfer's warm-up (the allocator's pages and the sockets' buffers).
        let alpha = small.min()! / 2
        let beta = bulk.min().map { max(($0 - 2 * alpha) / Double(bulkElements * 4), 1e-12) } ?? 1 / 2e9
        return ProbeResult(
            link: LinkCost(alphaSeconds: alpha, betaSecondsPerByte: beta), cpuPerMessageSeconds: processor.median)
    }

    /// Processor time this process (every thread) has used, in seconds.
    static func processSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
    }

    static func send(_ control: SocketBox, _ message: BenchMessage) throws {
        var frames = ZMQMessage()
        for frame in message.encoded() { frames.append(frame) }
        try control.socket.blockingSend(frames, timeout: .seconds(30))
    }

    /// The launcher's next message; an abort or a message that does not decode is an error.
    static func receive(_ control: SocketBox, timeout: Duration) throws -> BenchMessage {
        let received = try control.socket.blockingReceive(timeout: timeout)
        let message: BenchMessage
        do {
            message = try BenchMessage(frames: (0..<received.count).map { received.bytes($0) })
        } catch {
            throw RuntimeError(.protocolViolation, "the launcher's message", cause: error)
        }
        if case .abort(let abort) = message {
            throw RuntimeError(.peerFailed, "the launcher aborted the run: \(abort.reason)")
        }
        return message
    }
}
