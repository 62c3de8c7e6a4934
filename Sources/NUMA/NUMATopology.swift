import Glibc

/// The machine's NUMA layout: nodes, their CPUs and memory, and the distances between them.
///
/// `discover()` reads it from libnuma. Where libnuma is unavailable it falls back to one node
/// holding every CPU. Setting `STRAITS_FAKE_NUMA` injects a fake layout over the real machine
/// (`2`: two nodes sharing out the CPUs; `0-3;4-7`: one CPU list per node), so the multi-node
/// paths run on a one-node machine: pinning uses the fake node's CPUs, and memory for a fake
/// node comes from the real node `physicalNode(for:)` names.
public struct NUMATopology: Sendable, Equatable, CustomStringConvertible {
    /// Where the layout came from.
    public enum Source: Sendable, Equatable {
        case libnuma
        /// libnuma is unavailable (no kernel support): one node with every CPU.
        case fallback
        /// Injected; the description it was built from.
        case fake(String)
    }

    /// The environment variable that injects a fake topology.
    public static let fakeEnvironmentVariable = "STRAITS_FAKE_NUMA"

    /// The nodes, in node-number order.
    public let nodes: [NUMANode]
    /// `distances[i][j]`: the relative distance from `nodes[i]` to `nodes[j]` (10 = local).
    public let distances: [[Int]]
    public let source: Source
    /// The real node ids behind the nodes (equal to the node ids unless the topology is fake).
    let physicalNodeIDs: [Int]

    public init(nodes: [NUMANode], distances: [[Int]], source: Source, physicalNodeIDs: [Int]? = nil) {
        self.nodes = nodes
        self.distances = distances
        self.source = source
        self.physicalNodeIDs = physicalNodeIDs ?? nodes.map(\.id)
    }

    /// The topology to use: a fake one if `STRAITS_FAKE_NUMA` is set, else the real one.
    public static func discover() throws(NUMAError) -> NUMATopology {
        let real = try discoverReal()
        guard let fake = getenv(fakeEnvironmentVariable).map({ String(cString: $0) }), !fake.isEmpty else {
            return real
        }
        return try NUMATopology.fake(fake, over: real)
    }

    /// The machine's real layout, from libnuma (or the one-node fallback).
    public static func discoverReal() throws(NUMAError) -> NUMATopology {
        guard let maxNode = NUMASystem.maxNode() else {
            let node = NUMANode(id: 0, cpus: NUMASystem.onlineCPUs(), memoryBytes: NUMASystem.physicalMemoryBytes())
            return NUMATopology(nodes: [node], distances: [[10]], source: .fallback)
        }
        var nodes: [NUMANode] = []
        for id in 0...maxNode {
            let cpus = try NUMASystem.cpus(ofNode: id)
            let memory = NUMASystem.memoryBytes(ofNode: id)
            if cpus.isEmpty && memory == 0 { continue }
            nodes.append(NUMANode(id: id, cpus: cpus, memoryBytes: memory))
        }
        let distances = nodes.map { from in nodes.map { to in NUMASystem.distance(from.id, to.id) } }
        return NUMATopology(nodes: nodes, distances: distances, source: .libnuma)
    }

    /// A fake layout over `real`: `"N"` splits the CPUs into N nodes in contiguous blocks (CPUs
    /// are shared round-robin when there are fewer CPUs than nodes); `"0-3;4-7"` gives each
    /// node's CPU list. Distances are 10 locally and 21 across, as on a two-socket server.
    public static func fake(_ description: String, over real: NUMATopology) throws(NUMAError) -> NUMATopology {
        let allCPUs = real.nodes.flatMap(\.cpus).sorted()
        let cpuLists: [[Int]]
        if let count = Int(description) {
            guard count >= 1 && count <= 64 else {
                throw NUMAError(
                    code: .invalidFakeTopology, operation: fakeEnvironmentVariable,
                    detail: "expected a node count from 1 to 64, got \(count)")
            }
            if allCPUs.count >= count {
                cpuLists = (0..<count).map { node in
                    Array(allCPUs[(node * allCPUs.count / count)..<((node + 1) * allCPUs.count / count)])
                }
            } else {
                cpuLists = (0..<count).map { [allCPUs[$0 % allCPUs.count]] }
            }
        } else {
            var lists: [[Int]] = []
            for (index, part) in description.split(separator: ";", omittingEmptySubsequences: false).enumerated() {
                guard let cpus = CPUList.parse(part) else {
                    throw NUMAError(
                        code: .invalidFakeTopology, operation: fakeEnvironmentVariable,
                        detail:
                            "node \(index): expected a CPU list like 0-3,8, got \"\(part)\" (whole value \"\(description)\"; or give a node count like 2)"
                    )
                }
                if let missing = cpus.first(where: { !allCPUs.contains($0) }) {
                    throw NUMAError(
                        code: .invalidFakeTopology, operation: fakeEnvironmentVariable,
                        detail: "node \(index): CPU \(missing) does not exist here (CPUs \(CPUList.format(allCPUs)))")
                }
                lists.append(cpus)
            }
            cpuLists = lists
        }
        let memoryEach = real.nodes.reduce(0) { $0 + $1.memoryBytes } / cpuLists.count
        let nodes = cpuLists.enumerated().map { NUMANode(id: $0.offset, cpus: $0.element, memoryBytes: memoryEach) }
        let distances = nodes.map { from in nodes.map { to in from.id == to.id ? 10 : 21 } }
        let physical = nodes.map { real.nodes[$0.id % real.nodes.count].id }
        return NUMATopology(nodes: nodes, distances: distances, source: .fake(description), physicalNodeIDs: physical)
    }

    /// The node with this id.
    public func node(_ id: Int) throws(NUMAError) -> NUMANode {
        guard let node = nodes.first(where: { $0.id == id }) else {
            throw NUMAError(
                code: .noSuchNode, operation: "node lookup",
                detail: "node \(id) is not in the topology (nodes \(nodes.map(\.id)))")
        }
        return node
    }

    /// The node a CPU belongs to, if any.
    public func node(ofCPU cpu: Int) -> Int? {
        nodes.first { $0.cpus.contains(cpu) }?.id
    }

    /// The real node that memory for `node` is allocated on.
    public func physicalNode(for node: Int) throws(NUMAError) -> Int {
        guard let index = nodes.firstIndex(where: { $0.id == node }) else {
            throw NUMAError(
                code: .noSuchNode, operation: "node lookup",
                detail: "node \(node) is not in the topology (nodes \(nodes.map(\.id)))")
        }
        return physicalNodeIDs[index]
    }

    /// The distance between two nodes (10 = local).
    public func distance(from: Int, to: Int) throws(NUMAError) -> Int {
        guard let i = nodes.firstIndex(where: { $0.id == from }), let j = nodes.firstIndex(where: { $0.id == to })
        else {
            throw NUMAError(
                code: .noSuchNode, operation: "distance",
                detail: "nodes \(from) and \(to) (topology has \(nodes.map(\.id)))")
        }
        return distances[i][j]
    }

    public var isFake: Bool {
        if case .fake = source { return true }
        return false
    }

    public var description: String {
        let kind: String
        switch source {
        case .libnuma: kind = "libnuma"
        case .fallback: kind = "no NUMA support: one node"
        case .fake(let text): kind = "fake \(Self.fakeEnvironmentVariable)=\(text)"
        }
        return "\(nodes.count) NUMA node(s) (\(kind)): " + nodes.map(\.description).joined(separator: "; ")
    }
}
