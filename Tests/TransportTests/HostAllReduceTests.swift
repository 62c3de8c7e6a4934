import CStraitsShims
import Collectives
import Foundation
import Testing

@testable import Transport

@Suite("the direct all-reduce through shared buffers", .serialized)
struct HostAllReduceTests {
    static func planes(_ ranks: Int, bytes: Int) throws -> [SharedMemoryPlane] {
        try SharedMemoryTests.planes(ranks, capacity: 4096, sharedBufferBytes: bytes)
    }

    @Test(
        "exact on every rank, three times back to back: random ranks, sizes across the reduction's blocks, misaligned ranges, and the elements around the range untouched",
        arguments: 0..<16)
    func property(_ seed: Int) async throws {
        let ranks = SharedMemoryTests.draw(seed, 1, 1...6)
        let count = [
            0, 1, 7, SharedMemoryTests.draw(seed, 2, 2...5000), SharedMemoryTests.draw(seed, 3, 40_000...300_000),
        ][
            seed % 5]
        let offset = SharedMemoryTests.draw(seed, 4, 0...19)
        let planes = try Self.planes(ranks, bytes: (offset + count + 1) * 4)
        let results = try await onThreads(ranks) { rank -> [Int] in
            let host = planes[rank].host!
            let floats = host.base.assumingMemoryBound(to: Float.self)
            return try (0..<3).map { round in
                ExactPattern.fill(host.base + offset * 4, count: count, rank: rank, ranks: ranks)
                if offset > 0 { floats[offset - 1] = -1 }
                floats[offset + count] = -2
                try host.allReduce(
                    range: ElementRange(offset: offset, count: count), ranks: ranks, spin: .microseconds(50),
                    yields: true, timeout: .seconds(30))
                let untouched = (offset == 0 || floats[offset - 1] == -1) && floats[offset + count] == -2
                return ExactPattern.countWrong(host.base + offset * 4, count: count, ranks: ranks)
                    + (untouched ? 0 : 1_000_000 * (round + 1))
            }
        }
        #expect(
            results == Array(repeating: [0, 0, 0], count: ranks),
            "\(ranks) ranks, \(count) elements at offset \(offset)")
    }

    @Test("a rank that never comes makes the others time out, naming it")
    func timeout() async throws {
        let planes = try Self.planes(3, bytes: 4096)
        let errors = try await onThreads(2) { rank -> String in
            do {
                try planes[rank].host!.allReduce(
                    range: ElementRange(offset: 0, count: 100), ranks: 3, spin: .microseconds(50), yields: true,
                    timeout: .milliseconds(300))
                return "no error"
            } catch let error as RuntimeError {
                return error.kind == .timedOut ? error.description : "\(error.kind)"
            }
        }
        #expect(errors.allSatisfy { $0.contains("timed out waiting for ranks [2]") && $0.contains("inputs ready") })
    }

    @Test("a peer's barrier counter that runs ahead of where it can be is a protocol violation")
    func counterAhead() throws {
        let planes = try Self.planes(2, bytes: 4096)
        straits_store_release_u64(planes[1].bell.arrived, 1 << 40)
        let error = #expect(throws: RuntimeError.self) {
            try planes[0].host!.allReduce(
                range: ElementRange(offset: 0, count: 10), ranks: 2, spin: .microseconds(50), yields: true,
                timeout: .seconds(5))
        }
        #expect(error?.kind == .protocolViolation && error?.description.contains("rank 1's barrier counter") == true)
    }

    @Test("a rank with no shared buffer of a peer says so")
    func missingPeer() throws {
        let plane = try SharedMemoryPlane(rank: 0, ringCapacity: 4096, sharedBufferBytes: 64)
        let error = #expect(throws: RuntimeError.self) {
            try plane.host!.allReduce(
                range: ElementRange(offset: 0, count: 4), ranks: 2, spin: .zero, yields: true, timeout: .seconds(1))
        }
        #expect(error?.description.contains("no shared buffer of rank 1") == true)
    }

    @Test("a buffer larger than /dev/shm is refused at once with an error naming the file, and leaves no file")
    func tooLarge() throws {
        var info = statvfs()
        #expect(statvfs("/dev/shm", &info) == 0)
        let bytes = Int(info.f_blocks) * Int(info.f_frsize) + (1 << 30)
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: "/dev/shm"))
        let error = #expect(throws: RuntimeError.self) {
            _ = try SharedMemoryPlane(rank: 0, ringCapacity: 4096, sharedBufferBytes: bytes)
        }
        #expect(error?.description.contains("-buffer") == true && error?.description.contains("\(bytes) bytes") == true)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: "/dev/shm")).subtracting(before)
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test("a plane's buffer file is gone once the plane is")
    func fileRemoved() throws {
        var token = ""
        func files() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: "/dev/shm").filter { $0 == token + "-buffer" }
        }
        do {
            let plane = try SharedMemoryPlane(rank: 0, ringCapacity: 4096, sharedBufferBytes: 1 << 16)
            token = String(plane.endpoint.dropFirst("shm://".count))
            #expect(try files().count == 1)
        }
        #expect(try files().isEmpty)
    }
}
