import Collectives
import Foundation
import Transport

/// One bench rank's timed all-reduces: what the measured sizes and the planner's calibration
/// both run, the same way. Each iteration fills the buffer with the exact pattern, passes a
/// barrier of the ranks that take part (and of the worker's devices, for `hier`), then times the
/// all-reduce on this rank.
final class BenchIterations {
    let plane: BenchTransport
    let group: DeviceGroup
    let rank: Int
    let worker: Int
    let device: Int
    let workers: Int
    let devices: Int
    let timeout: Duration
    /// The next collective's id; every rank counts alike.
    var collective: UInt64

    var ranks: Int { workers * devices }
    /// The rank's buffer: in shared memory where the ranks share theirs (`direct`).
    var buffer: UnsafeMutableRawPointer { plane.host?.base ?? group.base(device) }

    init(
        plane: BenchTransport, group: DeviceGroup, worker: Int, device: Int, workers: Int, devices: Int,
        timeout: Duration, collective: UInt64
    ) {
        self.plane = plane
        self.group = group
        self.rank = worker * devices + device
        self.worker = worker
        self.device = device
        self.workers = workers
        self.devices = devices
        self.timeout = timeout
        self.collective = collective
    }

    /// This rank's time of each of `iterations` all-reduces of `count` elements by `plan`, after
    /// `warmup` untimed ones.
    func time(_ plan: AllReducePlan, count: Int, iterations: Int, warmup: Int) throws -> [Double] {
        let hierarchical = plan.algorithm == .hier
        var schedule = CollectiveSchedule(rank: rank, ranks: ranks)
        var barrier = CollectiveSchedule(rank: rank, ranks: ranks)
        if hierarchical {
            let stream = (0..<workers).map { $0 * devices + device }
            (plan.innerAlgorithm ?? .ring).appendFlat(
                to: &schedule, group: stream, range: group.slice(device, of: count), chunkElements: plan.chunkElements)
            DisseminationBarrier.append(to: &barrier, group: stream)
        } else {
            if plan.algorithm != .direct {  // direct sends no messages
                plan.algorithm.appendFlat(
                    to: &schedule, group: Array(0..<ranks), range: ElementRange(offset: 0, count: count),
                    chunkElements: plan.chunkElements)
            }
            DisseminationBarrier.append(to: &barrier, group: Array(0..<ranks))
        }
        var times: [Double] = []
        for iteration in 0..<(warmup + iterations) {
            ExactPattern.fill(buffer, count: count, rank: rank, ranks: ranks)
            if hierarchical { try group.synchronize(timeout: timeout, what: "iteration start") }
            try plane.run(barrier, buffer: buffer, elementCount: count, collectiveID: collective, timeout: timeout)
            collective += 1
            if hierarchical { try group.synchronize(timeout: timeout, what: "iteration barrier") }
            let start = ContinuousClock.now
            if plan.algorithm == .direct {
                try plane.allReduceDirect(count: count, ranks: ranks, timeout: timeout)
            } else if hierarchical {
                try group.reduceScatter(device: device, count: count, timeout: timeout)
                try plane.run(schedule, buffer: buffer, elementCount: count, collectiveID: collective, timeout: timeout)
                try group.allGather(device: device, count: count, timeout: timeout)
            } else {
                try plane.run(schedule, buffer: buffer, elementCount: count, collectiveID: collective, timeout: timeout)
            }
            let elapsed = ContinuousClock.now - start
            collective += 1
            if iteration >= warmup { times.append(elapsed.inSeconds) }
        }
        return times
    }

    /// Every rank's `values` (the same count on every rank), in rank order, the same on every
    /// rank: each rank puts its values in its own slot of a zeroed buffer and all ranks sum it
    /// with a ring, so every element is one rank's value plus zeros, exact.
    func gather(_ values: [Double]) throws -> [[Double]] {
        let count = values.count * ranks
        guard count > 0 else { return Array(repeating: [], count: ranks) }
        let slots = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        defer { slots.deallocate() }
        slots.initialize(repeating: 0)
        for (index, value) in values.enumerated() { slots[rank * values.count + index] = Float(value) }
        var schedule = CollectiveSchedule(rank: rank, ranks: ranks)
        AllReduceAlgorithm.ring.appendFlat(
            to: &schedule, group: Array(0..<ranks), range: ElementRange(offset: 0, count: count),
            chunkElements: count)
        try plane.run(
            schedule, buffer: UnsafeMutableRawPointer(slots.baseAddress!), elementCount: count,
            collectiveID: collective, timeout: timeout)
        collective += 1
        return (0..<ranks).map { peer in (0..<values.count).map { Double(slots[peer * values.count + $0]) } }
    }
}
