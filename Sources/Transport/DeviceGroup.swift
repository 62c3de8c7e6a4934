import Collectives
import NUMA
import Synchronization

/// The devices of one worker: threads pinned across NUMA nodes, each with a node-local buffer,
/// and the shared-memory levels of a hierarchical all-reduce between them.
///
/// Reduce-scatter is owner-computes: the buffer is cut into one slice per device, and device `d`
/// produces slice `d`'s sum in its own buffer. With several NUMA nodes it goes in two levels:
/// - numa: on each node, the node's devices share out the slices; each sums its slices over the
///   node's devices into a scratch buffer on that node (reading local memory only);
/// - host: device `d` sums slice `d` over the nodes' partials, reading one partial per node,
///   into its own buffer.
/// With one node, device `d` sums slice `d` straight from every device's buffer. The all-gather
/// then copies each slice from its owner. Every step that writes memory is done by a device on
/// the node that holds that memory; `records` lists them, so tests can check it.
public final class DeviceGroup: @unchecked Sendable {
    // Unchecked Sendable: the buffers are shared raw memory; which device reads or writes which
    // slice, and when, is ordered by `barrier` (see reduceScatter and allGather).

    /// One reduction step, for tests and logs.
    public struct Record: Sendable, Equatable {
        public enum Level: String, Sendable { case numa, host }
        public let level: Level
        public let slice: Int
        public let device: Int
        public let deviceNode: Int
        public let memoryNode: Int
    }

    public let topology: NUMATopology
    public let placements: [DevicePlacement]
    public let buffers: [NUMABuffer]
    public let elementCount: Int
    public let barrier: ThreadBarrier
    /// One scratch buffer per node that has devices, when there is more than one such node.
    private let scratch: [Int: NUMABuffer]
    private let nodesInUse: [Int]
    private let recording: Mutex<[Record]?>

    public var devices: Int { placements.count }

    /// How many slices the shared-memory levels cut a buffer into, owned by the first devices
    /// (all of them by default; fewer where the cluster's hierarchical all-reduce runs fewer
    /// streams than this worker has devices, `ClusterLayout.streams`). Set while no device
    /// thread reduces.
    public var slices: Int {
        get { sliceCount.load(ordering: .acquiring) }
        set { sliceCount.store(max(1, min(newValue, devices)), ordering: .releasing) }
    }
    private let sliceCount = Atomic<Int>(0)

    /// Places `devices` over `topology` and allocates a node-local buffer of `elementCount`
    /// float32 elements for each (plus a partial-sums buffer per node when there are several).
    public init(devices: Int, elementCount: Int, topology: NUMATopology, recordSteps: Bool = false) throws {
        self.topology = topology
        self.elementCount = elementCount
        placements = topology.place(devices: devices)
        buffers = try placements.map { try NUMABuffer(byteCount: elementCount * 4, node: $0.node, topology: topology) }
        nodesInUse = Array(Set(placements.map(\.node))).sorted()
        var scratch: [Int: NUMABuffer] = [:]
        if nodesInUse.count > 1 {
            for node in nodesInUse {
                scratch[node] = try NUMABuffer(byteCount: elementCount * 4, node: node, topology: topology)
            }
        }
        self.scratch = scratch
        barrier = ThreadBarrier(parties: devices)
        recording = Mutex(recordSteps ? [] : nil)
        sliceCount.store(devices, ordering: .releasing)
    }

    /// The reduction steps done so far (when recording).
    public var records: [Record] { recording.withLock { $0 ?? [] } }

    /// The slice device `d` owns when `count` elements (default: all) are reduced.
    public func slice(_ device: Int, of count: Int? = nil) -> ElementRange {
        let slices = self.slices
        guard device < slices else { return ElementRange(offset: 0, count: 0) }
        return ElementRange(offset: 0, count: count ?? elementCount).split(into: slices)[device]
    }

    /// Pins the calling thread where device `d` runs.
    public func pin(device: Int) throws {
        try topology.pinCurrentThread(to: placements[device])
    }

    /// The raw float32 elements of device `d`'s buffer. Valid while the group lives: the group
    /// owns the buffers and never frees them before it is freed itself.
    public func base(_ device: Int) -> UnsafeMutableRawPointer {
        Self.base(of: buffers[device])
    }

    private static func base(of buffer: NUMABuffer) -> UnsafeMutableRawPointer {
        buffer.withUnsafeMutableBytes { $0.baseAddress! }  // NUMABuffer allocates at least one byte
    }

    /// Called by every device thread: afterwards device `d`'s buffer holds the worker-wide sum
    /// of slice `d` (other slices are left as they were).
    /// With `offset`, the reduction covers elements offset..<offset+count of every buffer, and
    /// slices are taken of that range.
    public func reduceScatter(device d: Int, offset: Int = 0, count: Int? = nil, timeout: Duration) throws {
        let count = count ?? elementCount
        precondition(
            offset + count <= elementCount, "reduce of \(count) elements at \(offset) in buffers of \(elementCount)")
        let base = { (device: Int) in self.base(device) + offset * 4 }
        let scratchBase = { (node: Int) in Self.base(of: self.scratch[node]!) + offset * 4 }
        try barrier.wait(timeout: timeout, what: "reduce-scatter start")
        let mine = slice(d, of: count)
        guard devices > 1 else { return }
        if scratch.isEmpty {
            for other in 0..<devices where other != d {
                ReductionKernel.sum(
                    into: base(d) + mine.offset * 4, from: base(other) + mine.offset * 4, count: mine.count)
            }
            if d < slices { record(.host, slice: d, device: d, memoryNode: buffers[d].node) }
            return
        }
        // numa level: this device's share of its node's slices, summed over the node's devices.
        let node = placements[d].node
        let local = placements.filter { $0.node == node }.map(\.device)
        let partial = scratchBase(node)
        for s in 0..<slices where local[s % local.count] == d {
            let range = slice(s, of: count)
            let target = partial + range.offset * 4
            target.copyMemory(from: base(local[0]) + range.offset * 4, byteCount: range.count * 4)
            for other in local.dropFirst() {
                ReductionKernel.sum(into: target, from: base(other) + range.offset * 4, count: range.count)
            }
            record(.numa, slice: s, device: d, memoryNode: scratch[node]!.node)
        }
        try barrier.wait(timeout: timeout, what: "numa level")
        // host level: slice d over the nodes' partials, one read per node.
        let target = base(d) + mine.offset * 4
        target.copyMemory(from: scratchBase(node) + mine.offset * 4, byteCount: mine.count * 4)
        for other in nodesInUse where other != node {
            let source = scratchBase(other) + mine.offset * 4
            ReductionKernel.sum(into: target, from: source, count: mine.count)
        }
        if d < slices { record(.host, slice: d, device: d, memoryNode: buffers[d].node) }
    }

    /// Called by every device thread once its slice is final: copies every other slice from its
    /// owner, so each device's buffer holds the whole result.
    public func allGather(device d: Int, offset: Int = 0, count: Int? = nil, timeout: Duration) throws {
        try barrier.wait(timeout: timeout, what: "all-gather start")
        for owner in 0..<slices where owner != d {
            let range = slice(owner, of: count)
            (base(d) + (offset + range.offset) * 4).copyMemory(
                from: base(owner) + (offset + range.offset) * 4, byteCount: range.count * 4)
        }
        try barrier.wait(timeout: timeout, what: "all-gather end")
    }

    /// A barrier of the worker's device threads.
    public func synchronize(timeout: Duration, what: String) throws {
        try barrier.wait(timeout: timeout, what: what)
    }

    /// Makes every device thread waiting in this group fail (a peer thread failed).
    public func abort(_ reason: String) {
        barrier.breakBarrier(reason)
    }

    /// Makes the group usable again after `abort`, once no device thread waits in it (a new
    /// membership epoch, after the device threads gave up the work of the last).
    public func resume() {
        barrier.reset()
    }

    private func record(_ level: Record.Level, slice: Int, device: Int, memoryNode: Int) {
        recording.withLock {
            $0?.append(
                Record(
                    level: level, slice: slice, device: device, deviceNode: placements[device].node,
                    memoryNode: memoryNode))
        }
    }
}
