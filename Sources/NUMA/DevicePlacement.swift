/// Where one device (rank thread) of a worker runs: its NUMA node and the CPUs it is pinned to.
public struct DevicePlacement: Sendable, Equatable, CustomStringConvertible {
    /// The device's index inside its worker.
    public let device: Int
    /// The NUMA node that runs it and holds its buffers.
    public let node: Int
    /// The CPUs it may run on: those of its node.
    public let cpus: [Int]

    public init(device: Int, node: Int, cpus: [Int]) {
        self.device = device
        self.node = node
        self.cpus = cpus
    }

    public var description: String { "device \(device) → node \(node) (CPUs \(CPUList.format(cpus)))" }
}

extension NUMATopology {
    /// Spreads `devices` over the nodes in contiguous blocks, so that neighbouring devices share a
    /// node (the numa level of a hierarchical all-reduce groups them) and every node gets an equal
    /// share, ±1. With fewer devices than nodes, each device gets a node of its own.
    public func place(devices: Int) -> [DevicePlacement] {
        precondition(devices >= 0, "device count \(devices)")
        return (0..<devices).map { device in
            let node = nodes[device * nodes.count / max(devices, 1)]
            return DevicePlacement(device: device, node: node.id, cpus: node.cpus)
        }
    }
}
