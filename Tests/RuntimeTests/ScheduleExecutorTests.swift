import Collectives
import Foundation
import NUMA
import Testing
@testable import Runtime

func patternValue(rank: Int, index: Int, ranks: Int) -> Float {
    Float((index % max(1, (1 << 24) / (ranks * ranks))) * ranks + rank)
}

func expectedSum(index: Int, ranks: Int) -> Float {
    Float((index % max(1, (1 << 24) / (ranks * ranks))) * ranks * ranks + ranks * (ranks - 1) / 2)
}

@Suite("all-reduce over real ZeroMQ sockets")
struct ScheduleExecutorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let algorithm: AllReduceAlgorithm
        let transport: String
        let ranks: Int
        let count: Int
        let chunk: Int
        let misalignment: Int
        var testDescription: String { "\(algorithm) over \(transport), \(ranks) ranks, \(count) elements" }
    }

    static let cases: [Case] = [
        Case(algorithm: .ring, transport: "tcp", ranks: 3, count: 1_000_003, chunk: 65_536, misalignment: 4),
        Case(algorithm: .ring, transport: "ipc", ranks: 4, count: 97, chunk: 5, misalignment: 0),
        Case(algorithm: .rhd, transport: "tcp", ranks: 5, count: 65_537, chunk: 4096, misalignment: 8),
        Case(algorithm: .rd, transport: "ipc", ranks: 3, count: 1, chunk: 1, misalignment: 0),
        Case(algorithm: .ring, transport: "inproc", ranks: 2, count: 0, chunk: 1, misalignment: 0),
        Case(algorithm: .rhd, transport: "inproc", ranks: 6, count: 16 << 20, chunk: 1 << 20, misalignment: 0),
    ]

    @Test("flat algorithms give the exact sum on every rank", arguments: cases)
    func flat(_ test: Case) async throws {
        let board = EndpointBoard()
        let barrier = ThreadBarrier(parties: test.ranks)
        let wrong = try await onThreads(test.ranks) { rank -> Int in
            let endpoint: String
            switch test.transport {
            case "tcp": endpoint = "tcp://127.0.0.1:*"
            case "ipc": endpoint = "ipc:///tmp/straits-exec-\(getpid())-\(test.count)-\(rank).sock"
            default: endpoint = "inproc://straits-exec-\(test.count)-\(test.algorithm)-\(rank)"
            }
            let plane = try DataPlane(rank: rank, bind: [endpoint])
            board.publish(rank, plane.endpoints)
            try barrier.wait(timeout: .seconds(30))
            for peer in 0..<test.ranks where peer != rank { try plane.connect(peer: peer, endpoint: board.endpoints(peer)[0]) }

            let storage = UnsafeMutableRawPointer.allocate(byteCount: test.count * 4 + 16, alignment: 64)
            defer { storage.deallocate() }
            let buffer = storage + test.misalignment
            for index in 0..<test.count {
                buffer.storeBytes(of: patternValue(rank: rank, index: index, ranks: test.ranks), toByteOffset: index * 4, as: Float.self)
            }
            var schedule = CollectiveSchedule(rank: rank, ranks: test.ranks)
            test.algorithm.appendFlat(to: &schedule, group: Array(0..<test.ranks),
                                      range: ElementRange(offset: 0, count: test.count), chunkElements: test.chunk)
            for iteration in 0..<2 {
                if iteration > 0 {
                    for index in 0..<test.count {
                        buffer.storeBytes(of: patternValue(rank: rank, index: index, ranks: test.ranks), toByteOffset: index * 4, as: Float.self)
                    }
                }
                try ScheduleExecutor.run(schedule, buffer: buffer, elementCount: test.count, on: plane,
                                         collectiveID: UInt64(iteration), timeout: .seconds(60))
            }
            var wrong = 0
            for index in 0..<test.count
            where buffer.loadUnaligned(fromByteOffset: index * 4, as: Float.self) != expectedSum(index: index, ranks: test.ranks) {
                wrong += 1
            }
            try barrier.wait(timeout: .seconds(30))  // keep sockets open until every rank is done
            return wrong
        }
        #expect(wrong == Array(repeating: 0, count: test.ranks))
    }

    @Test("a peer that never sends makes the collective time out with a clear error")
    func timeout() async throws {
        let plane = try DataPlane(rank: 0, bind: ["inproc://straits-exec-lonely"])
        var silentPeer = try DataPlane(rank: 1, bind: ["inproc://straits-exec-silent"])
        _ = silentPeer
        try plane.connect(peer: 1, endpoint: "inproc://straits-exec-silent")
        var schedule = CollectiveSchedule(rank: 0, ranks: 2)
        RingAllReduce.append(to: &schedule, group: [0, 1], range: ElementRange(offset: 0, count: 8), chunkElements: 8)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 32, alignment: 16)
        defer { buffer.deallocate() }
        let error = #expect(throws: RuntimeError.self) {
            try ScheduleExecutor.run(schedule, buffer: buffer, elementCount: 8, on: plane, collectiveID: 1, timeout: .milliseconds(300))
        }
        #expect(error?.description.contains("timed out") == true)
        #expect(error?.description.contains("← 1") == true)
        silentPeer = try DataPlane(rank: 1, bind: ["inproc://straits-exec-silent-2"])
    }
}

@Suite("NUMA-aware shared-memory levels of a worker")
struct DeviceGroupTests {
    @Test("with a fake 2-node topology each slice is reduced by a device on the node holding its memory")
    func fakeTwoNodes() async throws {
        let fake = try NUMATopology.fake("2", over: NUMATopology.discoverReal())
        let devices = 4, count = 10_007
        let group = try DeviceGroup(devices: devices, elementCount: count, topology: fake, recordSteps: true)
        #expect(group.placements.map(\.node) == [0, 0, 1, 1])
        #expect(group.buffers.map(\.node) == [0, 0, 1, 1])
        let wrong = try await onThreads(devices) { device -> Int in
            try group.pin(device: device)
            let base = group.base(device)
            for index in 0..<count {
                base.storeBytes(of: patternValue(rank: device, index: index, ranks: devices), toByteOffset: index * 4, as: Float.self)
            }
            try group.reduceScatter(device: device, timeout: .seconds(30))
            try group.allGather(device: device, timeout: .seconds(30))
            return (0..<count).filter { base.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) != expectedSum(index: $0, ranks: devices) }.count
        }
        #expect(wrong == [0, 0, 0, 0])
        let records = group.records
        // numa level: every slice summed once per node, by a device of that node, into that node's memory.
        let numa = records.filter { $0.level == .numa }
        #expect(numa.count == devices * 2)
        #expect(numa.allSatisfy { $0.deviceNode == $0.memoryNode })
        for node in 0..<2 {
            #expect(Set(numa.filter { $0.memoryNode == node }.map(\.slice)) == Set(0..<devices))
        }
        // host level: slice d by device d, into its own node's memory.
        let host = records.filter { $0.level == .host }
        #expect(host.map(\.slice).sorted() == Array(0..<devices))
        #expect(host.allSatisfy { $0.slice == $0.device && $0.deviceNode == $0.memoryNode })
    }

    @Test("on one node, owner-computes: device d reduces slice d into its own memory")
    func oneNode() async throws {
        let real = try NUMATopology.discoverReal()
        let one = NUMATopology(nodes: [real.nodes[0]], distances: [[10]], source: .libnuma)
        let devices = 3, count = 1001
        let group = try DeviceGroup(devices: devices, elementCount: count, topology: one, recordSteps: true)
        let wrong = try await onThreads(devices) { device -> Int in
            let base = group.base(device)
            for index in 0..<count {
                base.storeBytes(of: patternValue(rank: device, index: index, ranks: devices), toByteOffset: index * 4, as: Float.self)
            }
            try group.reduceScatter(device: device, timeout: .seconds(30))
            try group.allGather(device: device, timeout: .seconds(30))
            return (0..<count).filter { base.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) != expectedSum(index: $0, ranks: devices) }.count
        }
        #expect(wrong == [0, 0, 0])
        #expect(group.records.map(\.slice).sorted() == [0, 1, 2])
        #expect(group.records.allSatisfy { $0.level == .host && $0.slice == $0.device })
    }
}
