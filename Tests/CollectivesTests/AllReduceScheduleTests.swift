import Foundation
import Testing

@testable import Collectives

enum Shape: CustomTestStringConvertible, Sendable {
    case flat(AllReduceAlgorithm)
    case hierarchical([Int])

    var testDescription: String {
        switch self {
        case .flat(let algorithm): "\(algorithm)"
        case .hierarchical(let shape): "hier \(shape)"
        }
    }

    func schedules(ranks: Int, elementCount: Int, chunkElements: Int) -> [CollectiveSchedule] {
        (0..<ranks).map { rank in
            var schedule = CollectiveSchedule(rank: rank, ranks: ranks)
            let range = ElementRange(offset: 0, count: elementCount)
            switch self {
            case .flat(let algorithm):
                algorithm.appendFlat(to: &schedule, group: Array(0..<ranks), range: range, chunkElements: chunkElements)
            case .hierarchical(let shape):
                HierarchicalAllReduce.append(to: &schedule, shape: shape, range: range, chunkElements: chunkElements)
            }
            return schedule
        }
    }
}

@Suite("all-reduce schedules over the in-memory transport")
struct AllReduceScheduleTests {
    static let sizes = [0, 1, 2, 3, 7, 31, 97, 1009, 65_537]

    @Test(
        "flat algorithms are bit-exact for random P, sizes, chunkings, offsets and delivery orders",
        arguments: [AllReduceAlgorithm.ring, .rhd, .rd])
    func flatBitExact(algorithm: AllReduceAlgorithm) throws {
        var generator = SeededGenerator(seed: 0xA11 ^ UInt64(algorithm.rawValue.hashValue & 0xFFFF))
        for trial in 0..<40 {
            let ranks = Int.random(in: 1...9, using: &generator)
            let count = Self.sizes.randomElement(using: &generator)!
            // From one element per chunk to one chunk per segment, at most ~64 chunks per range.
            let chunk = max([1, 3, 64, 1000, 1 << 20].randomElement(using: &generator)!, count / 64)
            let misalignment = Int.random(in: 0...7, using: &generator)
            try check(
                .flat(algorithm), ranks: ranks, count: count, chunk: chunk, misalignment: misalignment,
                seed: UInt64(trial) &* 7919, label: "trial \(trial)")
        }
    }

    @Test(
        "hierarchical composition is bit-exact",
        arguments: [[2, 2], [3, 3], [2, 3], [4, 2], [2, 2, 2], [1, 4], [3, 1, 2]])
    func hierarchicalBitExact(shape: [Int]) throws {
        let ranks = shape.reduce(1, *)
        for (trial, count) in [0, 1, 13, 1009, 40_000].enumerated() {
            try check(
                .hierarchical(shape), ranks: ranks, count: count, chunk: trial % 2 == 0 ? 100 : 1 << 20,
                misalignment: trial % 4, seed: UInt64(trial), label: "shape \(shape)")
        }
    }

    @Test(
        "every rank ends with the same bits on data whose sums round", arguments: [AllReduceAlgorithm.ring, .rhd, .rd])
    func identicalBitsWhenRounding(algorithm: AllReduceAlgorithm) throws {
        for ranks in [2, 3, 5, 8] {
            let count = 4099
            var transport = InMemoryTransport(ranks: ranks, elementCount: count, misalignment: 3) { rank, index in
                Float(sin(Double(index * 31 + rank * 17))) * 1e3 + 1e-3 * Float(rank)
            }
            defer { transport.release() }
            try transport.run(
                Shape.flat(algorithm).schedules(ranks: ranks, elementCount: count, chunkElements: 100), seed: 42)
            for rank in 1..<ranks {
                let same = (0..<count).allSatisfy {
                    transport.element(rank, $0).bitPattern == transport.element(0, $0).bitPattern
                }
                #expect(same, "\(algorithm), \(ranks) ranks: rank \(rank) differs from rank 0")
            }
        }
    }

    @Test("64 MiB ring and Rabenseifner all-reduces are exact", arguments: [AllReduceAlgorithm.ring, .rhd])
    func large(algorithm: AllReduceAlgorithm) throws {
        try check(
            .flat(algorithm), ranks: 3, count: 16 << 20, chunk: 1 << 20, misalignment: 4, seed: 9, label: "64 MiB")
    }

    @Test("a dissemination barrier completes for every group size")
    func barrier() throws {
        for ranks in 1...9 {
            var transport = InMemoryTransport(ranks: ranks, elementCount: 0, misalignment: 0) { _, _ in 0 }
            defer { transport.release() }
            let schedules = (0..<ranks).map { rank in
                var schedule = CollectiveSchedule(rank: rank, ranks: ranks)
                DisseminationBarrier.append(to: &schedule, group: Array(0..<ranks))
                return schedule
            }
            try transport.run(schedules, seed: UInt64(ranks))
            var rounds = 0
            while 1 << rounds < ranks { rounds += 1 }
            #expect(transport.messagesSent == ranks * rounds)
        }
    }

    @Test("ring traffic is 2(p−1)/p of the buffer per rank")
    func ringTraffic() {
        for ranks in 2...9 {
            let count = 2520 * 4  // divisible by every group size tried
            let schedule = Shape.flat(.ring).schedules(ranks: ranks, elementCount: count, chunkElements: 100)[0]
            #expect(schedule.bytesSent == 2 * (ranks - 1) * (count / ranks) * 4)
        }
    }

    private func check(
        _ shape: Shape, ranks: Int, count: Int, chunk: Int, misalignment: Int, seed: UInt64, label: String
    ) throws {
        var transport = InMemoryTransport(ranks: ranks, elementCount: count, misalignment: misalignment) {
            ExactPattern.value(rank: $0, index: $1, ranks: ranks)
        }
        defer { transport.release() }
        try transport.run(shape.schedules(ranks: ranks, elementCount: count, chunkElements: chunk), seed: seed)
        var wrong = 0
        for rank in 0..<ranks {
            for index in 0..<count where transport.element(rank, index) != ExactPattern.sum(index: index, ranks: ranks)
            {
                wrong += 1
            }
        }
        #expect(
            wrong == 0,
            "\(label): \(shape.testDescription), \(ranks) ranks, \(count) elements, chunk \(chunk), offset \(misalignment)"
        )
    }
}
