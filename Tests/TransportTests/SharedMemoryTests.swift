import CStraitsShims
import Collectives
import Foundation
import StraitsWire
import Testing

@testable import Transport

@Suite("all-reduce over rings in shared memory", .serialized)
struct SharedMemoryTests {
    /// A value in `range` drawn from `seed` and `salt` by a multiply-xorshift hash, so that each
    /// case of the property test can be replayed by its seed.
    static func draw(_ seed: Int, _ salt: Int, _ range: ClosedRange<Int>) -> Int {
        var z = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(salt) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 31)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 29
        return range.lowerBound + Int(z % UInt64(range.count))
    }

    /// Rank `rank`'s part of a ring all-reduce of `count` elements between two ranks, and a
    /// buffer holding the test pattern; the caller deallocates it.
    static func pairRing(rank: Int, count: Int) -> (CollectiveSchedule, UnsafeMutableRawPointer) {
        var schedule = CollectiveSchedule(rank: rank, ranks: 2)
        RingAllReduce.append(
            to: &schedule, group: [0, 1], range: ElementRange(offset: 0, count: count), chunkElements: count)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        ExactPattern.fill(buffer, count: count, rank: rank, ranks: 2)
        return (schedule, buffer)
    }

    /// `ranks` planes with rings of `capacity` bytes (and shared buffers of `sharedBufferBytes`),
    /// each connected to every other.
    static func planes(_ ranks: Int, capacity: Int, sharedBufferBytes: Int? = nil) throws -> [SharedMemoryPlane] {
        let planes = try (0..<ranks).map {
            try SharedMemoryPlane(rank: $0, ringCapacity: capacity, sharedBufferBytes: sharedBufferBytes)
        }
        for plane in planes {
            for peer in planes where peer.rank != plane.rank {
                try plane.connect(peer: peer.rank, endpoint: peer.endpoint)
            }
        }
        return planes
    }

    @Test(
        "every flat algorithm is exact on every rank: random ranks, sizes, chunks, misaligned buffers and rings small enough to wrap and fill",
        arguments: 0..<24)
    func property(_ seed: Int) async throws {
        let algorithm = [AllReduceAlgorithm.ring, .rhd, .rd][seed % 3]
        let ranks = Self.draw(seed, 1, 2...6)
        let count = [0, 1, 7, Self.draw(seed, 2, 2...5000), Self.draw(seed, 3, 5000...300_000)][seed % 5]
        let chunk = max(1, [count, 1 + count / 3, Self.draw(seed, 4, 1...4096)][Self.draw(seed, 5, 0...2)])
        let misalignment = [0, 4, 8, 12][seed % 4]
        let capacity = [2048, 8192, 65536, 1 << 20][Self.draw(seed, 6, 0...3)]
        let planes = try Self.planes(ranks, capacity: capacity)
        let wrong = try await fragmentAllReduce(
            planes, algorithm: algorithm, count: count, chunk: chunk, misalignment: misalignment)
        #expect(
            wrong == Array(repeating: [0, 0, 0], count: ranks),
            "\(algorithm), \(ranks) ranks, \(count) elements, chunk \(chunk), offset \(misalignment), ring \(capacity)")
        #expect(planes.allSatisfy { $0.rejected == 0 && $0.early.count == 0 })
    }

    @Test("a producer's head out of range stops the collective with an error naming the ring and the peer")
    func corruptHead() async throws {
        let planes = try Self.planes(2, capacity: 4096)
        let ring = planes[1].outgoing[0]!.ring
        straits_store_release_u64(ring.head, 1 << 40)
        let (schedule, buffer) = Self.pairRing(rank: 0, count: 8)
        defer { buffer.deallocate() }
        let error = #expect(throws: RuntimeError.self) {
            try FragmentExecutor.run(
                schedule, buffer: buffer, elementCount: 8, on: planes[0], collectiveID: 1, timeout: .seconds(5))
        }
        #expect(error?.kind == .protocolViolation)
        #expect(error?.description.contains("rank 1") == true && error?.description.contains("out of range") == true)
    }

    @Test(
        "forged records (wrong size, another collective, a false source) are dropped, and the real message completes the collective exactly"
    )
    func forgedRecords() async throws {
        let planes = try Self.planes(2, capacity: 1 << 16)
        let count = 1000
        let ring = planes[1].outgoing[0]!.ring
        let junk = [UInt8](repeating: 0x7f, count: 64)
        for (collective, source, length) in [(1, 1, 64), (0, 1, 2000), (1, 0, 2000)] {
            var header = DataFrameHeader(
                sourceRank: UInt32(source), step: 0, collectiveID: UInt64(collective), tag: 0, offsetBytes: 0,
                lengthBytes: UInt64(length))
            header.epoch = 0
            junk.withUnsafeBytes { ring.write(header: header, fragmentStart: 0, payload: $0) }
        }
        ring.publish()
        let wrong = try await onThreads(2) { rank -> Int in
            let (schedule, buffer) = Self.pairRing(rank: rank, count: count)
            defer { buffer.deallocate() }
            try FragmentExecutor.run(
                schedule, buffer: buffer, elementCount: count, on: planes[rank], collectiveID: 1, timeout: .seconds(10))
            return ExactPattern.countWrong(buffer, count: count, ranks: 2)
        }
        #expect(wrong == [0, 0])
        #expect(planes[0].rejected == 3)
    }

    @Test(
        "a message of 1 MiB or more that comes before its receive may run is held in pages of its own and applied exactly when the receive may"
    )
    func heldLargeMessage() async throws {
        // Rank 1 may take the large message only after the small one, which rank 0 sends last:
        // the whole large message waits in rank 1's memory (a ring of 256 KiB holds a quarter).
        let large = 300_000
        let planes = try Self.planes(2, capacity: 256 << 10)
        let results = try await onThreads(2) { rank -> [Float] in
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: (large + 1) * 4, alignment: 64)
            defer { buffer.deallocate() }
            let values = buffer.bindMemory(to: Float.self, capacity: large + 1)
            for index in 0...large { values[index] = rank == 0 ? Float(index % 9973) + 0.5 : -1 }
            var schedule = CollectiveSchedule(rank: rank, ranks: 2)
            if rank == 0 {
                let first = schedule.add(.send(peer: 1), ElementRange(offset: 0, count: large), tag: 1)
                schedule.add(.send(peer: 1), ElementRange(offset: large, count: 1), tag: 2, after: [first])
            } else {
                let small = schedule.add(.receiveCopy(peer: 0), ElementRange(offset: large, count: 1), tag: 2)
                schedule.add(.receiveCopy(peer: 0), ElementRange(offset: 0, count: large), tag: 1, after: [small])
            }
            try FragmentExecutor.run(
                schedule, buffer: buffer, elementCount: large + 1, on: planes[rank], collectiveID: 1,
                timeout: .seconds(30))
            return Array(UnsafeBufferPointer(start: values, count: large + 1))
        }
        #expect(results[1] == results[0])
        #expect(planes.allSatisfy { $0.rejected == 0 })
    }

    @Test("a peer that never writes makes the collective time out with a clear error")
    func timeout() throws {
        let planes = try Self.planes(2, capacity: 4096)
        let (schedule, buffer) = Self.pairRing(rank: 0, count: 8)
        defer { buffer.deallocate() }
        let error = #expect(throws: RuntimeError.self) {
            try FragmentExecutor.run(
                schedule, buffer: buffer, elementCount: 8, on: planes[0], collectiveID: 1, timeout: .milliseconds(300))
        }
        #expect(error?.kind == .timedOut && error?.description.contains("timed out") == true)
    }

    @Test("a plane's files are gone once it is: its bell and its incoming rings")
    func filesRemoved() throws {
        var tokens: [String] = []
        func files() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: "/dev/shm").filter { name in
                tokens.contains { name.hasPrefix($0 + "-") }
            }
        }
        do {
            let planes = try Self.planes(3, capacity: 4096)
            tokens = planes.map { String($0.endpoint.dropFirst("shm://".count)) }
            #expect(try files().count == 3 + 6)
        }
        #expect(try files().isEmpty)
    }

    @Test("an endpoint that is not a plain name is refused")
    func badEndpoint() throws {
        let plane = try SharedMemoryPlane(rank: 0, ringCapacity: 4096)
        for endpoint in ["tcp://127.0.0.1:5", "shm://../etc/passwd", "shm://", "shm://a b"] {
            #expect(throws: RuntimeError.self) { try plane.connect(peer: 1, endpoint: endpoint) }
        }
    }
}
