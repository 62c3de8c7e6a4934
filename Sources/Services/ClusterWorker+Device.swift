import ClusterCore
import Collectives
import Config
import Emulation
import Foundation
import NUMA
import StraitsWire
import Synchronization
import Transport
import ZeroMQ

extension ClusterWorker {
    /// A device thread: waits for commands and carries them out until `quit`.
    static func deviceLoop(device: Int, shared: Shared, board: DeviceBoard) {
        let plane = shared.planes[device]
        var seen = 0
        do {
            guard let group = shared.group else { throw RuntimeError(.outOfOrder, "no device group") }
            try group.pin(device: device)
            while true {
                guard let (sequence, command) = board.next(after: seen, timeout: 1) else { continue }
                seen = sequence
                do {
                    try carryOut(command, device: device, plane: plane, group: group, shared: shared, board: board)
                } catch  where plane.isSuperseded {
                    // A new membership epoch: the work is given up, not failed.
                    try shared.trainingDevices[safe: device]?.settle()
                    board.finish(device: device, .superseded)
                }
                if case .quit = command { return }
            }
        } catch {
            shared.trainingDevices[safe: device]?.close()
            shared.group?.abort("device \(device) failed: \(error)")
            board.fail(device: device, "\(error)")
        }
    }

    /// Carries out one command on one device thread.
    private static func carryOut(
        _ command: DeviceBoard.Command, device: Int, plane: DataPlane, group: DeviceGroup, shared: Shared,
        board: DeviceBoard
    ) throws {
        switch command {
        case .quit:
            shared.trainingDevices[safe: device]?.close()
        case .run(.connect(let plan)):
            let layout = ClusterLayout(plan: plan)
            plane.rank = layout.rank(worker: plan.you, device: device)
            plane.traffic.setRegions(
                (0..<layout.ranks).map { layout.workers[layout.worker(ofRank: $0)].region })
            let myRegion = layout.workers[plan.you].region
            let gateway = plan.gateways?.first { $0.region == myRegion }
            for peer in 0..<layout.ranks where peer != plane.rank {
                let worker = layout.worker(ofRank: peer)
                let peerDevice = peer - layout.workers[worker].firstRank
                let peerRegion = layout.workers[worker].region
                if let gateway, peerRegion != myRegion {
                    // Another region: through this region's gateway, which shapes the link.
                    try plane.connect(peer: peer, endpoint: gateway.endpoints[peerRegion], routedTo: peer)
                } else {
                    let endpoint =
                        worker == plan.you
                        ? "inproc://straits-worker-\(getpid())-\(peerDevice)"
                        : layout.workers[worker].endpoints[peerDevice]
                    try plane.connect(peer: peer, endpoint: endpoint)
                }
            }
            board.finish(device: device, .done)
        case .run(.probe(let probe)):
            guard device == 0, let layout = shared.layout else {
                board.finish(device: device, .done)
                return
            }
            var collective = UInt64(probe.collective)
            let peer = layout.rank(worker: probe.peerWorker, device: 0)
            func measure() throws -> BenchWorker.ProbeResult {
                try BenchWorker.probe(
                    plane: BenchTransport.sockets(plane), rank: plane.rank, peer: peer, ranks: layout.ranks,
                    buffer: group.base(0),
                    elements: group.elementCount, collective: &collective, timeout: shared.timeout)
            }
            let result =
                probe.direct == true
                ? try plane.withDirectConnection(
                    peer: peer, endpoint: layout.workers[probe.peerWorker].endpoints[0], measure)
                : try measure()
            board.finish(
                device: device,
                .probed(
                    .init(
                        alphaS: result.link.alphaSeconds, betaSPerByte: result.link.betaSecondsPerByte,
                        cpuPerMessageS: result.cpuPerMessageSeconds)))
        case .run(.step(let step)):
            plane.approachesArrivals = shared.arrivalWait.approaches(advice: step.approachArrivals)
            if let train = step.train {
                guard let trainer = shared.trainingDevices[safe: device] else {
                    throw RuntimeError(.outOfOrder, "a training step, but the plan carries no training job")
                }
                board.finish(device: device, .stepped(try trainer.step(step, train)))
            } else {
                board.finish(
                    device: device,
                    .stepped(try runStep(step, device: device, plane: plane, group: group, shared: shared)))
            }
        }
    }

    /// One step on one device: emulated compute, then the all-reduce of the plan, timed per
    /// level, and the exact check of every element.
    static func runStep(
        _ step: ControlMessage.Step, device: Int, plane: DataPlane, group: DeviceGroup,
        shared: Shared
    ) throws -> ControlMessage.DeviceStep {
        guard let layout = shared.layout, let planner = shared.planner else {
            throw RuntimeError(.outOfOrder, "step before the plan")
        }
        let rank = plane.rank
        let ranks = layout.ranks
        let count = step.bytes / 4
        guard count <= group.elementCount else {
            throw RuntimeError(
                .unsupported,
                "step \(step.step) all-reduces \(step.bytes) bytes; buffers hold \(group.elementCount * 4)")
        }
        let timeout = shared.timeout
        let buffer = group.base(device)
        let fillStart = ContinuousClock.now
        ExactPattern.fill(buffer, count: count, rank: rank, ranks: ranks)
        var checkS = (ContinuousClock.now - fillStart).inSeconds

        let computeStart = ContinuousClock.now
        if step.computeS > 0 { Thread.sleep(forTimeInterval: step.computeS) }
        let computeS = (ContinuousClock.now - computeStart).inSeconds

        let choice = planner.choose(bytes: step.bytes, chunkBytes: step.chunkBytes)
        var collective = UInt64(step.collective)
        func run(_ schedule: CollectiveSchedule) throws {
            try ScheduleExecutor.run(
                schedule, buffer: buffer, elementCount: count, on: plane, collectiveID: collective,
                step: UInt64(step.step), timeout: timeout)
            collective += 1
        }
        // Every rank starts the timed part together: a barrier over the stream (or all ranks).
        let stream = choice.hierarchical ? layout.stream(device: device, rank: rank) : Array(0..<ranks)
        var barrier = CollectiveSchedule(rank: rank, ranks: ranks)
        DisseminationBarrier.append(to: &barrier, group: stream)
        let syncStart = ContinuousClock.now
        if choice.hierarchical { try group.synchronize(timeout: timeout, what: "step \(step.step) start") }
        try run(barrier)
        let syncS = (ContinuousClock.now - syncStart).inSeconds

        let start = ClockSync.toCluster(SystemClock.shared.now())
        let times = try LevelAllReduce.run(
            choice, layout: layout, device: device, group: group, plane: plane, count: count, collective: &collective,
            step: UInt64(step.step), timeout: timeout)
        let end = ClockSync.toCluster(SystemClock.shared.now())
        // Check only once every rank has finished: ranks share this machine's cores, and a rank
        // that checked its result at once would take a core that a slower rank still needs,
        // slowing what that rank measures.
        if choice.hierarchical { try group.synchronize(timeout: timeout, what: "step \(step.step) end") }
        try run(barrier)
        let checkStart = ContinuousClock.now
        let wrong = ExactPattern.countWrong(buffer, count: count, ranks: ranks)
        checkS += (ContinuousClock.now - checkStart).inSeconds
        var result = ControlMessage.DeviceStep(
            rank: rank, computeS: computeS, commS: times.total, hostS: times.host, regionS: times.region,
            wanS: times.wan, syncS: syncS, checkS: checkS, wrong: wrong)
        result.startNs = Int(start)
        result.endNs = Int(end)
        return result
    }
}
