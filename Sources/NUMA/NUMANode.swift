/// One NUMA node: its CPUs and its memory.
public struct NUMANode: Sendable, Equatable, CustomStringConvertible {
    /// The node number (as the kernel numbers it, or as the fake topology does).
    public let id: Int
    /// The CPUs local to the node.
    public let cpus: [Int]
    /// The node's memory in bytes.
    public let memoryBytes: Int

    public init(id: Int, cpus: [Int], memoryBytes: Int) {
        self.id = id
        self.cpus = cpus
        self.memoryBytes = memoryBytes
    }

    public var description: String {
        "node \(id): CPUs \(CPUList.format(cpus)), \(memoryBytes >> 20) MiB"
    }
}
