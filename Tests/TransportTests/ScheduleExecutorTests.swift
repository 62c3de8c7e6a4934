import Collectives
import Emulation
import Foundation
import NUMA
import StraitsWire
import Testing
import ZeroMQ

@testable import Transport

@Suite("all-reduce over real ZeroMQ sockets", .serialized)
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
            for peer in 0..<test.ranks where peer != rank {
                try plane.connect(peer: peer, endpoint: board.endpoints(peer)[0])
            }

            let storage = UnsafeMutableRawPointer.allocate(byteCount: test.count * 4 + 16, alignment: 64)
            defer { storage.deallocate() }
            let buffer = storage + test.misalignment
            var schedule = CollectiveSchedule(rank: rank, ranks: test.ranks)
            test.algorithm.appendFlat(
                to: &schedule, group: Array(0..<test.ranks),
                range: ElementRange(offset: 0, count: test.count), chunkElements: test.chunk)
            for iteration in 0..<2 {
                ExactPattern.fill(buffer, count: test.count, rank: rank, ranks: test.ranks)
                try ScheduleExecutor.run(
                    schedule, buffer: buffer, elementCount: test.count, on: plane,
                    collectiveID: UInt64(iteration), timeout: .seconds(60))
            }
            let wrong = ExactPattern.countWrong(buffer, count: test.count, ranks: test.ranks)
            try barrier.wait(timeout: .seconds(30))  // keep sockets open until every rank is done
            return wrong
        }
        #expect(wrong == Array(repeating: 0, count: test.ranks))
    }

    static let compressedCases: [(AllReduceAlgorithm, Int, WireCodec.Format)] = [
        (.ring, 2, .int8), (.ring, 5, .int8), (.rhd, 8, .int8), (.rhd, 4, .float16), (.rd, 2, .int8),
        (.rd, 4, .bfloat16),
    ]

    @Test("compressed across a region boundary: every rank ends with the same bits, close to the sum", arguments: 0..<6)
    func compressed(_ index: Int) async throws {
        let (algorithm, ranks, format) = Self.compressedCases[index]
        let count = 10_007
        let board = EndpointBoard()
        let barrier = ThreadBarrier(parties: ranks)
        let results = try await onThreads(ranks) { rank -> [Float] in
            let plane = try DataPlane(rank: rank, bind: ["inproc://straits-exec-compressed-\(index)-\(rank)"])
            board.publish(rank, plane.endpoints)
            try barrier.wait(timeout: .seconds(30))
            for peer in 0..<ranks where peer != rank {
                try plane.connect(peer: peer, endpoint: board.endpoints(peer)[0])
            }
            // Ranks below half are one region: only messages between the halves are compressed.
            let region = { (r: Int) in r < ranks / 2 ? 0 : 1 }
            let residual = UnsafeMutablePointer<Float>.allocate(capacity: count)
            residual.update(repeating: 0, count: count)
            defer { residual.deallocate() }
            var values = (0..<count).map {
                Float(sin(Double($0 * (rank + 1)))) * (rank == 0 && $0 % 1000 == 0 ? 50 : 1)
            }
            var schedule = CollectiveSchedule(rank: rank, ranks: ranks)
            algorithm.appendFlat(
                to: &schedule, group: Array(0..<ranks), range: ElementRange(offset: 0, count: count),
                chunkElements: 1500)
            let compression = WireCompression(
                format: format, compressTo: (0..<ranks).map { region($0) != region(rank) }, residual: residual)
            try values.withUnsafeMutableBytes {
                try ScheduleExecutor.run(
                    schedule, buffer: $0.baseAddress!, elementCount: count, on: plane, collectiveID: 1,
                    timeout: .seconds(60), compression: compression)
            }
            try barrier.wait(timeout: .seconds(30))
            return values
        }
        for rank in 1..<ranks {
            let differing = (0..<count).filter { results[rank][$0].bitPattern != results[0][$0].bitPattern }
            #expect(
                differing.count == 0,
                "rank \(rank) differs from rank 0 in \(differing.count) elements, first \(differing.prefix(5))")
        }
        var worst: Float = 0
        for i in 0..<count {
            let exact = (0..<ranks).reduce(Float(0)) {
                $0 + Float(sin(Double(i * ($1 + 1)))) * ($1 == 0 && i % 1000 == 0 ? 50 : 1)
            }
            // int8 blocks of 256 carry about 1/127 of the block's largest value; fp16/bf16 are relative.
            worst = max(worst, abs(results[0][i] - exact) / (format == .int8 ? 1 : max(1, abs(exact))))
        }
        #expect(worst < (format == .int8 ? 0.6 : 0.02), "largest error \(worst)")
    }

    @Test("a compressed collective refuses to fold ranks; a ring is chosen instead")
    func compressedFold() throws {
        #expect(
            WireCompression.algorithm(for: .rd, ranks: 3) == .ring
                && WireCompression.algorithm(for: .rhd, ranks: 4) == .rhd)
        let plane = try DataPlane(rank: 0, bind: ["inproc://straits-exec-fold"])
        var schedule = CollectiveSchedule(rank: 0, ranks: 3)
        AllReduceAlgorithm.rd.appendFlat(
            to: &schedule, group: [0, 1, 2], range: ElementRange(offset: 0, count: 8), chunkElements: 8)
        var values = [Float](repeating: 1, count: 8)
        let error = #expect(throws: WireCompression.FoldRefused.self) {
            try values.withUnsafeMutableBytes {
                try ScheduleExecutor.run(
                    schedule, buffer: $0.baseAddress!, elementCount: 8, on: plane, collectiveID: 1,
                    timeout: .seconds(1),
                    compression: WireCompression(format: .int8, compressTo: [false, true, true], residual: nil))
            }
        }
        #expect(error?.description.contains("cannot fold") == true)
    }

    @Test(
        "a message sent on before it arrives is held until its arrival time, and its lateness counted",
        arguments: [true, false])
    func heldUntilArrival(approach: Bool) async throws {
        // Rank 1's messages to rank 0 go through a relay acting as a gateway that sends each on
        // at once with an arrival time 60 ms later. Rank 0 approaches each arrival (wakes
        // shortly before it and spins the rest), or is woken by its timer at the arrival.
        let hold: Int64 = 60_000_000
        let tag = approach ? "approach" : "timer"
        let relayEndpoint = "inproc://straits-exec-held-relay-\(tag)"
        var relay = try ZMQSocket(.pull, linger: .zero)
        _ = try relay.bind(relayEndpoint)
        let relayBox = SocketBox(relay)
        let board = EndpointBoard()
        let barrier = ThreadBarrier(parties: 3)
        let results = try await onThreads(3) { role -> [Int] in
            if role == 2 {
                // The relay: two messages (rank 1's reduce-scatter and all-gather halves).
                try barrier.wait(timeout: .seconds(30))
                var out = try ZMQSocket(.push, linger: .seconds(1))
                try out.connect(board.endpoints(0)[0])
                for _ in 0..<2 {
                    var message = try relayBox.socket.blockingReceive(timeout: .seconds(20))
                    message.removeFirstFrame()
                    message.prepend(
                        GatewayRoute.arrivalFrame(destination: 0, arrivesAt: SystemClock.shared.now() + hold))
                    try out.blockingSend(message, timeout: .seconds(5))
                }
                try barrier.wait(timeout: .seconds(30))
                return []
            }
            let rank = role
            let plane = try DataPlane(rank: rank, bind: ["inproc://straits-exec-held-\(tag)-\(rank)"])
            plane.approachesArrivals = approach
            plane.traffic.setRegions([0, 1])
            board.publish(rank, plane.endpoints)
            try barrier.wait(timeout: .seconds(30))
            if rank == 1 {
                try plane.connect(peer: 0, endpoint: relayEndpoint, routedTo: 0)
            } else {
                try plane.connect(peer: 1, endpoint: board.endpoints(1)[0])
            }
            let count = 1000
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64)
            defer { buffer.deallocate() }
            var schedule = CollectiveSchedule(rank: rank, ranks: 2)
            RingAllReduce.append(
                to: &schedule, group: [0, 1], range: ElementRange(offset: 0, count: count), chunkElements: count)
            ExactPattern.fill(buffer, count: count, rank: rank, ranks: 2)
            let started = SystemClock.shared.now()
            try ScheduleExecutor.run(
                schedule, buffer: buffer, elementCount: count, on: plane, collectiveID: 1, timeout: .seconds(30))
            let took = SystemClock.shared.now() - started
            let wrong = ExactPattern.countWrong(buffer, count: count, ranks: 2)
            let arrivals = plane.traffic.arrivalSnapshot()
            try barrier.wait(timeout: .seconds(30))
            return [
                wrong, Int(took), arrivals[1]?.count ?? 0, arrivals.count, plane.approached, Int(plane.spunNanoseconds),
            ]
        }
        #expect(results[0][0] == 0 && results[1][0] == 0)
        // Rank 0 takes each of rank 1's two messages no sooner than 60 ms after the relay sent it.
        #expect(results[0][1] >= Int(hold), "rank 0 finished in \(results[0][1]) ns")
        // Both were counted as arrivals from region 1; rank 1 had none.
        #expect(results[0][2] == 2 && results[0][3] == 1)
        #expect(results[1][3] == 0)
        if approach {
            // Each arrival it woke for before it came (a busy machine may wake it after), it spun
            // for no longer than its margin allows.
            #expect(results[0][4] <= 2)
            #expect(results[0][5] <= results[0][4] * Int(OvershootWindow.ceiling), "spun \(results[0][5]) ns")
        } else {
            #expect(results[0][4] == 0 && results[0][5] == 0)
        }
    }

    /// Two ranks' planes over inproc, each connected to the other, `configure`d before.
    static func pair(_ name: String, configure: (DataPlane) -> Void = { _ in }) throws -> [DataPlane] {
        let planes = try (0..<2).map { try DataPlane(rank: $0, bind: ["inproc://straits-exec-\(name)-\($0)"]) }
        for plane in planes { configure(plane) }
        try planes[0].connect(peer: 1, endpoint: "inproc://straits-exec-\(name)-1")
        try planes[1].connect(peer: 0, endpoint: "inproc://straits-exec-\(name)-0")
        return planes
    }

    /// An all-reduce of `count` values on the two `planes` in one chunk, rank 1 starting
    /// `lateBy` microseconds after rank 0 (which meanwhile reads whatever else waits for it);
    /// each rank's wrong values.
    static func allReduce(
        _ planes: [DataPlane], count: Int, algorithm: AllReduceAlgorithm = .ring, lateBy: UInt32 = 0
    ) async throws -> [Int] {
        try await onThreads(2) { rank -> Int in
            if rank == 1 { usleep(lateBy) }
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64)
            defer { buffer.deallocate() }
            ExactPattern.fill(buffer, count: count, rank: rank, ranks: 2)
            var schedule = CollectiveSchedule(rank: rank, ranks: 2)
            algorithm.appendFlat(
                to: &schedule, group: [0, 1], range: ElementRange(offset: 0, count: count), chunkElements: count)
            try ScheduleExecutor.run(
                schedule, buffer: buffer, elementCount: count, on: planes[rank], collectiveID: 1, timeout: .seconds(10))
            return ExactPattern.countWrong(buffer, count: count, ranks: 2)
        }
    }

    @Test(
        "forged messages for the tag a rank waits on (no checksum, another epoch, the wrong size) are dropped, and the real one still completes the collective exactly"
    )
    func forgedMessages() async throws {
        let planes = try Self.pair("forged") { plane in
            plane.checksums = true
            plane.epoch = 7
        }
        let count = 64
        @Sendable func schedule(_ rank: Int) -> CollectiveSchedule {
            var schedule = CollectiveSchedule(rank: rank, ranks: 2)
            RingAllReduce.append(
                to: &schedule, group: [0, 1], range: ElementRange(offset: 0, count: count), chunkElements: count)
            return schedule
        }
        // What rank 0 first waits for from rank 1, forged three ways and queued before it.
        let receive = try #require(schedule(0).operations.first { !$0.kind.isSend })
        var forger = try ZMQSocket(.push, linger: .zero)
        try forger.connect("inproc://straits-exec-forged-0")
        let payload = [UInt8](repeating: 0x41, count: receive.range.count * 4)
        func header(epoch: UInt32, length: Int, checksummed: [UInt8]?) -> [UInt8] {
            var header = DataFrameHeader(
                sourceRank: 1, step: 0, collectiveID: 1, tag: receive.tag,
                offsetBytes: UInt64(receive.range.offset * 4),
                lengthBytes: UInt64(length))
            header.epoch = epoch
            if let checksummed {
                header.crc32c = CRC32C.checksum(checksummed)
                header.flags |= DataFrameHeader.Flags.checksummed
            }
            return header.encoded
        }
        let short = [UInt8](repeating: 0x42, count: 4)
        for frames in [
            [header(epoch: 7, length: payload.count, checksummed: nil), payload],
            [header(epoch: 6, length: payload.count, checksummed: payload), payload],
            [header(epoch: 8, length: payload.count, checksummed: payload), payload],
            [header(epoch: 7, length: 4, checksummed: short), short],
        ] {
            var message = ZMQMessage()
            for frame in frames { message.append(frame) }
            try forger.blockingSend(message, timeout: .seconds(5))
        }
        usleep(50_000)

        // Rank 1 starts late, so that rank 0 meets every forgery while it waits.
        let wrong = try await Self.allReduce(planes, count: count, lateBy: 200_000)
        #expect(wrong == [0, 0])
        #expect(planes[0].rejected == 2, "rejected \(planes[0].rejected)")
        // An earlier epoch's is dropped as stale; a later one's is kept for when the rank gets there.
        #expect(planes[0].stale == 1 && planes[0].earlyCount == 1)
        planes[0].enter(epoch: 9)
        #expect(planes[0].earlyCount == 0 && planes[0].earlyBytes == 0 && planes[0].outboxes.isEmpty)
    }

    @Test(
        "a new membership epoch: a rank waiting in a collective gives up at once (superseded, not timed out); entering the epoch drops the old epoch's messages and connections and keeps the new one's"
    )
    func supersededEpoch() async throws {
        let planes = try Self.pair("epoch") { $0.epoch = 1 }
        let gate = EpochGate()
        for plane in planes { plane.gate = gate }
        let count = 1 << 20  // 4 MiB: sent zero-copy, released by libzmq when it lets go
        // Rank 0 alone: it sends its half and waits for rank 1's, which never comes.
        let started = ContinuousClock.now
        let waiting = Task.detached {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64)
            defer { buffer.deallocate() }
            var schedule = CollectiveSchedule(rank: 0, ranks: 2)
            RingAllReduce.append(
                to: &schedule, group: [0, 1], range: ElementRange(offset: 0, count: count), chunkElements: count)
            do {
                try ScheduleExecutor.run(
                    schedule, buffer: buffer, elementCount: count, on: planes[0], collectiveID: 1,
                    timeout: .seconds(30))
                return RuntimeError.Kind?.none
            } catch let error as RuntimeError {
                return error.kind
            }
        }
        usleep(200_000)
        gate.raise()
        planes[0].releases.doorbell.ring()
        let kind = try await waiting.value
        #expect(kind == .superseded)
        #expect(ContinuousClock.now - started < .seconds(10))
        // Rank 1 never ran epoch 1: it enters epoch 2 and sends first; rank 0 still has epoch
        // 1's message from itself queued at rank 1 (stale there), and keeps rank 1's epoch 2
        // messages until it enters the epoch too.
        gate.lower()
        for plane in planes {
            plane.enter(epoch: 2)
            try plane.connect(peer: 1 - plane.rank, endpoint: "inproc://straits-exec-epoch-\(1 - plane.rank)")
        }
        let wrong = try await Self.allReduce(planes, count: 64, lateBy: 100_000)
        #expect(wrong == [0, 0])
        #expect(planes[1].stale >= 1, "stale \(planes[1].stale)")
        #expect(planes[0].rejected == 0 && planes[1].rejected == 0)
    }

    @Test(
        "a flood of messages for later collectives, and of messages held until far-off arrival times, stays within the rank's bounds (messages and bytes); the rest is dropped, and the collective completes exactly"
    )
    func floodBounded() async throws {
        let planes = try Self.pair("flood") { $0.earlyLimit = (messages: 8, bytes: 64 << 10) }
        var forger = try ZMQSocket(.push, linger: .zero)
        try forger.connect("inproc://straits-exec-flood-0")
        let payload = [UInt8](repeating: 0x41, count: 16 << 10)
        for index in 0..<40 {
            // 20 for collective 5 (later than the one running), 20 for this one arriving in a minute.
            let header = DataFrameHeader(
                sourceRank: 1, step: 0, collectiveID: index < 20 ? 5 : 1, tag: 1_000 + UInt64(index),
                offsetBytes: 0, lengthBytes: UInt64(payload.count))
            var message = ZMQMessage()
            if index >= 20 {
                message.append(
                    GatewayRoute.arrivalFrame(destination: 0, arrivesAt: SystemClock.shared.now() + 60_000_000_000))
            }
            message.append(header.encoded)
            message.append(payload)
            try forger.blockingSend(message, timeout: .seconds(5))
        }
        usleep(50_000)
        // Rank 1 starts late, so that rank 0 reads the whole flood while it waits.
        let wrong = try await Self.allReduce(planes, count: 64, lateBy: 200_000)
        #expect(wrong == [0, 0])
        // 64 KiB holds four messages of 16 KiB in each store; the other 16 of each are dropped.
        #expect(planes[0].earlyCount == 4 && planes[0].earlyBytes == 64 << 10)
        #expect(planes[0].holding.count == 4 && planes[0].holdingBytes == 64 << 10)
        #expect(planes[0].rejected == 32, "rejected \(planes[0].rejected)")
    }

    @Test(
        "two ranks over inproc exchange a large range they then receive into (recursive doubling, rhd): payloads are copied, so neither holds the other's message waiting for its own to be released"
    )
    func inprocExchange() async throws {
        for algorithm in [AllReduceAlgorithm.rd, .rhd] {
            let planes = try Self.pair("exchange-\(algorithm)")
            let count = 100_000  // 400 KB: above the size sent zero-copy to another process
            let wrong = try await Self.allReduce(planes, count: count, algorithm: algorithm)
            #expect(wrong == [0, 0], "\(algorithm)")
        }
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
            try ScheduleExecutor.run(
                schedule, buffer: buffer, elementCount: 8, on: plane, collectiveID: 1, timeout: .milliseconds(300))
        }
        #expect(error?.kind == .timedOut && error?.cause == nil)
        #expect(error?.description.contains("timed out") == true)
        #expect(error?.description.contains("← 1") == true)
        silentPeer = try DataPlane(rank: 1, bind: ["inproc://straits-exec-silent-2"])
    }
}

/// Runs the worker-level reduce-scatter and all-gather on one pinned thread per device; returns
/// each device's count of wrong elements.
func allReduceInWorker(_ group: DeviceGroup) async throws -> [Int] {
    try await onThreads(group.devices) { device -> Int in
        try group.pin(device: device)
        ExactPattern.fill(group.base(device), count: group.elementCount, rank: device, ranks: group.devices)
        try group.reduceScatter(device: device, timeout: .seconds(30))
        try group.allGather(device: device, timeout: .seconds(30))
        return ExactPattern.countWrong(group.base(device), count: group.elementCount, ranks: group.devices)
    }
}

@Suite("NUMA-aware shared-memory levels of a worker", .serialized)
struct DeviceGroupTests {
    @Test("with a fake 2-node topology each slice is reduced by a device on the node holding its memory")
    func fakeTwoNodes() async throws {
        let fake = try NUMATopology.fake("2", over: NUMATopology.discoverReal())
        let devices = 4
        let count = 10_007
        let group = try DeviceGroup(devices: devices, elementCount: count, topology: fake, recordSteps: true)
        #expect(group.placements.map(\.node) == [0, 0, 1, 1])
        #expect(group.buffers.map(\.node) == [0, 0, 1, 1])
        #expect(try await allReduceInWorker(group) == [0, 0, 0, 0])
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
        let devices = 3
        let count = 1001
        let group = try DeviceGroup(devices: devices, elementCount: count, topology: one, recordSteps: true)
        #expect(try await allReduceInWorker(group) == [0, 0, 0])
        #expect(group.records.map(\.slice).sorted() == [0, 1, 2])
        #expect(group.records.allSatisfy { $0.level == .host && $0.slice == $0.device })
    }

    @Test(
        "fewer slices than devices (a cluster whose smallest worker has fewer devices): the first devices own the slices, the rest none, on one node and on a fake two; exact everywhere"
    )
    func fewerSlices() async throws {
        let real = try NUMATopology.discoverReal()
        for topology in [
            NUMATopology(nodes: [real.nodes[0]], distances: [[10]], source: .libnuma),
            try NUMATopology.fake("2", over: real),
        ] {
            let group = try DeviceGroup(devices: 4, elementCount: 1009, topology: topology, recordSteps: true)
            group.slices = 3
            #expect(
                group.slice(3).count == 0 && group.slice(0).count + group.slice(1).count + group.slice(2).count == 1009)
            #expect(try await allReduceInWorker(group) == [0, 0, 0, 0])
            #expect(Set(group.records.filter { $0.level == .host }.map(\.slice)) == [0, 1, 2])
        }
    }
}
