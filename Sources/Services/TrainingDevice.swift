import Collectives
import Config
import Foundation
import StraitsWire
import Training
import Transport

/// One device's part of a training job: its replica of the model, its gradient buffer (the
/// worker's NUMA-local all-reduce buffer), and a communication thread that all-reduces gradient
/// buckets while the backward pass goes on, in the order the coordinator's step lists them.
final class TrainingDevice: @unchecked Sendable {
    // Unchecked Sendable: the device thread and its communication thread share this object;
    // the pipe's lock orders every hand-over between them (a bucket is posted only after the
    // backward pass finished writing it, and read back only after the pipe reports it done).
    let device: Int
    let spec: TrainingSpec
    let plane: DataPlane
    let group: DeviceGroup
    let shared: ClusterWorker.Shared
    let gradients: UnsafeMutablePointer<Float>
    private let pipe = BucketPipe()
    private var replica: Replica?
    private var scheduleIndex = -1
    /// Error feedback for int8: what earlier encodings of the gradients and of the
    /// pseudo-gradients lost, per element.
    private var gradientResidual: UnsafeMutablePointer<Float>?
    private var outerResidual: UnsafeMutablePointer<Float>?
    private var communicator: Thread?
    /// Elastic jobs: the replica's state when the step in flight began (`Replica.save`), which
    /// an attempt at the same step after a membership change starts from again.
    private var snapshot: UnsafeMutablePointer<Float>?
    /// The schedule and step the last attempt began.
    private var started: (schedule: Int, index: Int)?

    init(device: Int, spec: TrainingSpec, plane: DataPlane, group: DeviceGroup, shared: ClusterWorker.Shared) {
        self.device = device
        self.spec = spec
        self.plane = plane
        self.group = group
        self.shared = shared
        gradients = group.base(device).bindMemory(to: Float.self, capacity: group.elementCount)
        BLAS.useOneThread()
    }

    deinit {
        gradientResidual?.deallocate()
        outerResidual?.deallocate()
        snapshot?.deallocate()
    }

    private static func zeroed(_ count: Int) -> UnsafeMutablePointer<Float> {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        buffer.update(repeating: 0, count: count)
        return buffer
    }

    /// Stops the communication thread.
    func close() {
        pipe.close()
    }

    /// After a step was given up (a new membership epoch): the communication thread drops the
    /// buckets not yet begun and finishes the one it runs (it gives up at once too), so that the
    /// next attempt starts with nothing in flight.
    func settle() throws {
        try pipe.drain(timeout: shared.timeout)
    }

    /// Where the step starts from: a fresh replica for a new schedule; in an elastic job, the
    /// state saved when this step was first attempted, if it is attempted again.
    private func prepare(_ train: ControlMessage.TrainStep, schedule: TrainingSpec.Schedule) -> Replica {
        if train.schedule != scheduleIndex {
            replica = Replica(spec: spec, schedule: schedule)
            scheduleIndex = train.schedule
            started = nil
            // Another schedule's state has another size (θ_global and the outer velocity).
            snapshot?.deallocate()
            snapshot = nil
            for residual in [gradientResidual, outerResidual] {
                residual?.update(repeating: 0, count: group.elementCount)
            }
        }
        let replica = replica!
        guard shared.elastic else { return replica }
        if snapshot == nil { snapshot = .allocate(capacity: replica.stateCount) }
        if let started, started.schedule == train.schedule, started.index == train.index {
            replica.load(from: snapshot!)
        } else {
            replica.save(into: snapshot!)
        }
        started = (train.schedule, train.index)
        return replica
    }

    /// Sends the replica's whole state from rank `transfer.from` to the ranks `transfer.to`
    /// (ranks that joined the running job), in data frames of at most 4 MiB, before the step's
    /// own collectives (on the id just below them). A receiving rank takes it as its own, and
    /// with `global` starts its inner steps again from the global parameters.
    private func transferState(
        _ transfer: ControlMessage.StateTransfer, replica: Replica, step: ControlMessage.Step
    ) throws {
        let rank = plane.rank
        guard rank == transfer.from || transfer.to.contains(rank) else { return }
        let ranks = shared.layout?.ranks ?? 0
        guard transfer.from >= 0, transfer.from < ranks, transfer.to.allSatisfy({ $0 >= 0 && $0 < ranks }) else {
            throw RuntimeError(
                .protocolViolation, "step \(step.step): a state transfer \(transfer) names ranks beyond \(ranks)")
        }
        let count = replica.stateCount
        let state = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { state.deallocate() }
        if rank == transfer.from { replica.save(into: state) }
        var schedule = CollectiveSchedule(rank: rank, ranks: ranks)
        let chunk = (4 << 20) / 4
        for (part, offset) in stride(from: 0, to: count, by: chunk).enumerated() {
            let range = ElementRange(offset: offset, count: min(chunk, count - offset))
            if rank == transfer.from {
                for peer in transfer.to { _ = schedule.add(.send(peer: peer), range, tag: UInt64(part)) }
            } else {
                _ = schedule.add(.receiveCopy(peer: transfer.from), range, tag: UInt64(part))
            }
        }
        try ScheduleExecutor.run(
            schedule, buffer: UnsafeMutableRawPointer(state), elementCount: count, on: plane,
            collectiveID: UInt64(step.collective - 1), step: UInt64(step.step), timeout: shared.timeout)
        if rank != transfer.from {
            replica.load(from: state)
            if transfer.global == true, let global = replica.global {
                replica.parameters.update(from: global, count: replica.model.parameterCount)
            }
            if let snapshot { replica.save(into: snapshot) }
        }
    }

    /// Time spent in each level of the all-reduces of one step.
    struct LevelTimes {
        var host = 0.0, region = 0.0, wan = 0.0, total = 0.0

        static func + (a: LevelTimes, b: LevelTimes) -> LevelTimes {
            LevelTimes(host: a.host + b.host, region: a.region + b.region, wan: a.wan + b.wan, total: a.total + b.total)
        }
    }

    /// One all-reduce of a bucket, as the communication thread or the device thread runs it.
    struct Bucket: Sendable {
        let offset: Int
        let count: Int
        /// `all` ranks or this `region`.
        let everyRank: Bool
        let collective: UInt64
        let step: UInt64
        let outer: Bool
    }

    func step(_ step: ControlMessage.Step, _ train: ControlMessage.TrainStep) throws -> ControlMessage.DeviceStep {
        guard let layout = shared.layout else { throw RuntimeError(.outOfOrder, "training step before the plan") }
        guard train.schedule >= 0 && train.schedule < spec.schedules.count else {
            throw RuntimeError(
                .protocolViolation,
                "step \(step.step) names schedule \(train.schedule); the job has \(spec.schedules.count)")
        }
        let schedule = spec.schedules[train.schedule]
        let replica = prepare(train, schedule: schedule)
        if let transfer = train.state?.first(where: { $0.from == plane.rank || $0.to.contains(plane.rank) }) {
            try transferState(transfer, replica: replica, step: step)
        }
        let model = replica.model
        let count = model.parameterCount
        guard count <= group.elementCount else {
            throw RuntimeError(
                .unsupported, "the model has \(count) parameters; the all-reduce buffers hold \(group.elementCount)")
        }
        if schedule.compression == .int8, gradientResidual == nil {
            gradientResidual = Self.zeroed(group.elementCount)
            outerResidual = Self.zeroed(group.elementCount)
        }
        if communicator == nil {
            let thread = Thread { [self] in communicate() }
            thread.name = "device \(device) comm"
            thread.start()
            communicator = thread
        }
        let before = plane.traffic.snapshot()
        let rank = plane.rank
        replica.task.fill(rank: rank, step: train.index, input: replica.input, target: replica.target)

        // Compute, padded to the device profile's time when compute is synthetic; buckets are
        // handed to the communication thread as the backward pass completes them.
        let everyRank = train.gradients == .all
        let buckets = train.buckets
        var end = count
        for bucket in buckets {
            guard bucket.count == 2, bucket[1] > 0, bucket[0] + bucket[1] == end else {
                throw RuntimeError(
                    .protocolViolation,
                    "step \(step.step): buckets \(buckets) do not cover the \(count) parameters from the last one down")
            }
            end = bucket[0]
        }
        guard end == 0 else {
            throw RuntimeError(
                .protocolViolation, "step \(step.step): buckets \(buckets) leave parameters 0..<\(end) out")
        }
        let flops = model.flops(batch: spec.data.batch)
        let computeStart = ContinuousClock.now
        var emulated = 0.0
        func pad(_ phaseFlops: Double) {
            guard spec.compute.synthetic else { return }
            emulated += spec.compute.seconds(flops: phaseFlops)
            let due = computeStart + .nanoseconds(Int64(emulated * 1e9))
            let now = ContinuousClock.now
            if due > now { Thread.sleep(forTimeInterval: (due - now).inSeconds) }
        }
        var posted = 0
        let base = UInt64(step.collective)
        let loss = model.lossAndGradients(
            replica.parameters, gradients: gradients, input: replica.input, target: replica.target,
            batch: spec.data.batch, workspace: replica.workspace,
            forwardDone: { pad(flops.forward) },
            layerDone: { layer in
                pad(flops.backward[layer])
                while posted < buckets.count && buckets[posted][0] >= model.weightOffsets[layer] {
                    pipe.post(
                        Bucket(
                            offset: buckets[posted][0], count: buckets[posted][1], everyRank: everyRank,
                            collective: base + UInt64(posted * 4), step: UInt64(step.step), outer: false))
                    posted += 1
                }
            })
        let computeS = (ContinuousClock.now - computeStart).inSeconds

        let waitStart = ContinuousClock.now
        var times = try pipe.waitAll(buckets.count, timeout: shared.timeout * max(1, buckets.count))
        let waitS = (ContinuousClock.now - waitStart).inSeconds
        replica.inner.step(replica.parameters, gradients: gradients)

        var outerS = 0.0
        if train.outer {
            let outerStart = ContinuousClock.now
            replica.pseudoGradient(into: gradients)
            if let weights = train.outerWeights {
                // A weighted average: the all-reduce sums and divides by the ranks, so each rank
                // brings its pseudo-gradient times its weight over the mean weight.
                guard weights.count == shared.layout?.ranks, weights.indices.contains(rank) else {
                    throw RuntimeError(
                        .protocolViolation,
                        "step \(step.step): \(weights.count) outer weights for \(shared.layout?.ranks ?? 0) ranks")
                }
                let mean = weights.reduce(0, +) / Double(weights.count)
                let factor = Float(mean > 0 ? weights[rank] / mean : 1)
                for i in 0..<count { gradients[i] *= factor }
            }
            for (index, bucket) in buckets.enumerated() {
                times =
                    times
                    + (try allReduce(
                        Bucket(
                            offset: bucket[0], count: bucket[1], everyRank: true,
                            collective: base + UInt64((buckets.count + index) * 4),
                            step: UInt64(step.step), outer: true)))
            }
            replica.applyOuter(gradients)
            outerS = (ContinuousClock.now - outerStart).inSeconds
        }
        var parametersChecksum: UInt32?
        if train.save != nil || train.checksum == true {
            parametersChecksum = CRC32C.checksum(UnsafeRawBufferPointer(start: replica.parameters, count: count * 4))
        }
        if let path = train.save, rank == 0 {
            let bytes = UnsafeRawBufferPointer(start: replica.parameters, count: count * 4)
            shared.outgoingFile.withLock { $0 = (path, Array(bytes)) }
        }

        var lanBytes = 0
        var wanBytes = 0
        let myRegion = layout.region(ofRank: rank)
        for (peer, totals) in plane.traffic.snapshot() where peer >= 0 && peer < layout.ranks {
            let sent = totals.sentBytes - (before[peer]?.sentBytes ?? 0)
            if layout.region(ofRank: peer) == myRegion { lanBytes += sent } else { wanBytes += sent }
        }
        var result = ControlMessage.DeviceStep(
            rank: rank, computeS: computeS, commS: times.total, hostS: times.host,
            regionS: times.region, wanS: times.wan, syncS: 0, checkS: 0, wrong: 0)
        result.loss = loss
        result.waitS = waitS
        result.outerS = outerS
        result.emulatedS = spec.compute.synthetic ? emulated : nil
        result.lanBytes = lanBytes
        result.wanBytes = wanBytes
        result.parametersChecksum = parametersChecksum
        return result
    }

    /// The communication thread: all-reduces buckets as they are posted, until closed.
    private func communicate() {
        while let bucket = pipe.next() {
            do {
                pipe.finish(try allReduce(bucket))
            } catch {
                group.abort("device \(device) communication failed: \(error)")
                pipe.fail("\(error)")
            }
        }
    }

    /// All-reduces one bucket of the gradient buffer and divides it by the number of ranks it
    /// was summed over: shared memory inside the worker, then the region's ring, then (for
    /// `everyRank`) the regions, compressed on the WAN when the schedule says so.
    private func allReduce(_ bucket: Bucket) throws -> LevelTimes {
        guard let layout = shared.layout, let planner = shared.planner, let regional = shared.regionalPlanner else {
            throw RuntimeError(.outOfOrder, "all-reduce before the plan")
        }
        let schedule = spec.schedules[scheduleIndex]
        let rank = plane.rank
        let timeout = shared.timeout
        let buffer = UnsafeMutableRawPointer(gradients + bucket.offset)
        var choice =
            bucket.everyRank ? planner.choose(bytes: bucket.count * 4) : regional.choose(bytes: bucket.count * 4)
        var compression: WireCompression?
        if bucket.everyRank, layout.regions.count > 1, let format = schedule.compression.wireFormat {
            let group = choice.hierarchical ? layout.regions.count : layout.ranks
            choice = ClusterPlanner.Choice(
                hierarchical: choice.hierarchical, regionChunkBytes: choice.regionChunkBytes,
                algorithm: WireCompression.algorithm(for: choice.algorithm, ranks: group),
                chunkBytes: choice.chunkBytes, regionHosts: choice.regionHosts,
                regions: choice.regions, devices: choice.devices)
            let myRegion = layout.region(ofRank: rank)
            let residual = bucket.outer ? outerResidual : gradientResidual
            compression = WireCompression(
                format: format, compressTo: (0..<layout.ranks).map { layout.region(ofRank: $0) != myRegion },
                residual: residual.map { $0 + bucket.offset })
        }
        var collective = bucket.collective
        let levels = try LevelAllReduce.run(
            choice, layout: layout, device: device, group: group, plane: plane, offset: bucket.offset,
            count: bucket.count,
            collective: &collective, step: bucket.step, timeout: timeout, compression: compression,
            acrossRegions: bucket.everyRank)
        let scaleStart = ContinuousClock.now
        let summed = bucket.everyRank ? layout.ranks : layout.ranks(inRegion: layout.region(ofRank: rank))
        let scale = 1 / Float(summed)
        for i in 0..<bucket.count { buffer.assumingMemoryBound(to: Float.self)[i] *= scale }
        return LevelTimes(
            host: levels.host, region: levels.region, wan: levels.wan + levels.flat,
            total: levels.total + (ContinuousClock.now - scaleStart).inSeconds)
    }
}

extension TrainingSpec.Schedule.Compression {
    var wireFormat: WireCodec.Format? {
        switch self {
        case .none: nil
        case .fp16: .float16
        case .bf16: .bfloat16
        case .int8: .int8
        }
    }
}
