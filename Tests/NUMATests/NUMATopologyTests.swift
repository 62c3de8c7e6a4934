import Foundation
import Testing

@testable import NUMA

/// Runs `body` on a fresh thread of its own, so pinning never touches the test runner's threads.
func onDedicatedThread<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result<Value, any Error> { try body() })
        }
        thread.start()
    }
}

@Suite("NUMA topology, pinning and node-local memory", .serialized)
struct NUMATopologyTests {
    @Test("discovers this machine's nodes, CPUs, memory and distances")
    func discovery() throws {
        let topology = try NUMATopology.discoverReal()
        #expect(!topology.nodes.isEmpty)
        #expect(topology.source == (NUMASystem.isAvailable ? .libnuma : .fallback))
        let cpus = topology.nodes.flatMap(\.cpus)
        #expect(Set(cpus).count == cpus.count, "no CPU is on two nodes")
        #expect(Set(try ThreadAffinity.current()).isSubset(of: Set(cpus)))
        #expect(topology.nodes.allSatisfy { $0.memoryBytes > 0 })
        for (i, row) in topology.distances.enumerated() {
            #expect(row.count == topology.nodes.count)
            #expect(row[i] == 10)
        }
        #expect(topology.description.contains("node \(topology.nodes[0].id)"))
    }

    @Test("allocates page-aligned, zeroed memory on the node asked for")
    func nodeLocalAllocation() throws {
        let topology = try NUMATopology.discoverReal()
        for node in topology.nodes {
            let buffer = try NUMABuffer(byteCount: 3 << 20, node: node.id, topology: topology)
            #expect(buffer.node == node.id)
            #expect(buffer.physicalNode == node.id)
            let (aligned, zeroed) = buffer.withUnsafeMutableBytes { bytes in
                (Int(bitPattern: bytes.baseAddress) % 4096 == 0, bytes.allSatisfy { $0 == 0 })
            }
            #expect(aligned)
            #expect(zeroed)
            buffer.withUnsafeMutableFloats { floats in
                for index in floats.indices { floats[index] = Float(index) }
            }
            let readBack = buffer.withUnsafeMutableFloats { floats in
                floats.indices.allSatisfy { floats[$0] == Float($0) }
            }
            #expect(readBack)
            if NUMASystem.isAvailable {
                #expect(buffer.residentNode(ofByte: 0) == node.id)
                #expect(buffer.residentNode(ofByte: (3 << 20) - 1) == node.id)
            }
        }
        let empty = try NUMABuffer(byteCount: 0, node: topology.nodes[0].id, topology: topology)
        #expect(empty.byteCount == 0)
    }

    @Test("pins a thread to a CPU and to a node")
    func pinning() async throws {
        let topology = try NUMATopology.discoverReal()
        let lastCPU = topology.nodes.flatMap(\.cpus).max()!
        let (affinity, runningOn) = try await onDedicatedThread {
            try ThreadAffinity.pin(to: [lastCPU])
            return (try ThreadAffinity.current(), ThreadAffinity.currentCPU)
        }
        #expect(affinity == [lastCPU])
        #expect(runningOn == lastCPU)

        let node = topology.nodes[0]
        let nodeAffinity = try await onDedicatedThread {
            try topology.pinCurrentThread(toNode: node.id)
            return try ThreadAffinity.current()
        }
        #expect(nodeAffinity == node.cpus)

        let error = #expect(throws: NUMAError.self) { try ThreadAffinity.pin(to: [-1]) }
        #expect(error?.description.contains("sched_setaffinity") == true)
    }

    @Test("a fake 2-node topology sends placement, pinning and allocation to the expected nodes")
    func fakeTwoNodes() async throws {
        let real = try NUMATopology.discoverReal()
        let fake = try NUMATopology.fake("2", over: real)
        #expect(fake.nodes.map(\.id) == [0, 1])
        #expect(fake.distances == [[10, 21], [21, 10]])
        #expect(fake.isFake)
        let allCPUs = Set(real.nodes.flatMap(\.cpus))
        #expect(fake.nodes.allSatisfy { !$0.cpus.isEmpty && Set($0.cpus).isSubset(of: allCPUs) })

        let placements = fake.place(devices: 4)
        #expect(placements.map(\.node) == [0, 0, 1, 1])
        #expect(
            placements.map(\.cpus) == [fake.nodes[0].cpus, fake.nodes[0].cpus, fake.nodes[1].cpus, fake.nodes[1].cpus])
        #expect(fake.place(devices: 3).map(\.node) == [0, 0, 1])
        #expect(fake.place(devices: 1).map(\.node) == [0])

        for placement in placements {
            let buffer = try NUMABuffer(byteCount: 1 << 20, node: placement.node, topology: fake)
            #expect(buffer.node == placement.node)
            #expect(buffer.physicalNode == real.nodes[placement.node % real.nodes.count].id)
            _ = buffer.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 1) }
            if NUMASystem.isAvailable {
                #expect(buffer.residentNode() == buffer.physicalNode)
            }
            let affinity = try await onDedicatedThread {
                try fake.pinCurrentThread(to: placement)
                return (try ThreadAffinity.current(), ThreadAffinity.currentCPU)
            }
            #expect(affinity.0 == placement.cpus)
            #expect(
                affinity.1.map {
                    fake.node(ofCPU: $0) == placement.node || fake.nodes.allSatisfy { $0.cpus == placement.cpus }
                } == true)
        }
        #expect(throws: NUMAError.self) { try NUMABuffer(byteCount: 64, node: 2, topology: fake) }
    }

    @Test("STRAITS_FAKE_NUMA injects the fake topology; bad values say what is expected")
    func fakeFromEnvironment() throws {
        let real = try NUMATopology.discoverReal()
        let cpu = real.nodes[0].cpus[0]
        setenv(NUMATopology.fakeEnvironmentVariable, "\(cpu);\(cpu)", 1)
        defer { unsetenv(NUMATopology.fakeEnvironmentVariable) }
        let fake = try NUMATopology.discover()
        #expect(fake.source == .fake("\(cpu);\(cpu)"))
        #expect(fake.nodes.map(\.cpus) == [[cpu], [cpu]])

        setenv(NUMATopology.fakeEnvironmentVariable, "0-1;zz", 1)
        let malformed = #expect(throws: NUMAError.self) { try NUMATopology.discover() }
        #expect(malformed?.code == .invalidFakeTopology)
        #expect(malformed?.description.contains("node 1: expected a CPU list like 0-3,8, got \"zz\"") == true)

        #expect(throws: NUMAError.self) { try NUMATopology.fake("0", over: real) }
        #expect(throws: NUMAError.self) { try NUMATopology.fake("65", over: real) }
        let missing = #expect(throws: NUMAError.self) { try NUMATopology.fake("4095;0", over: real) }
        #expect(missing?.description.contains("does not exist") == true)

        unsetenv(NUMATopology.fakeEnvironmentVariable)
        #expect(try NUMATopology.discover() == real)
    }

    @Test("CPU lists parse and format like the kernel's")
    func cpuLists() {
        #expect(CPUList.parse("0-3,8,10-11") == [0, 1, 2, 3, 8, 10, 11])
        #expect(CPUList.parse("") == nil)
        #expect(CPUList.parse("3-1") == nil)
        #expect(CPUList.parse("a") == nil)
        #expect(CPUList.format([11, 0, 1, 2, 3, 8, 10]) == "0-3,8,10-11")
    }
}
