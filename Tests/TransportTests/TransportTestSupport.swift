import Collectives
import Foundation
import Synchronization

@testable import Transport

/// Runs `body(i)` on `count` dedicated threads at once and returns their results (or the first error).
func onThreads<Value: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Value) async throws -> [Value]
{
    try await withThrowingTaskGroup(of: (Int, Value).self) { group in
        for index in 0..<count {
            group.addTask {
                try await withCheckedThrowingContinuation { continuation in
                    Thread { continuation.resume(with: Result { (index, try body(index)) }) }.start()
                }
            }
        }
        var results = [(Int, Value)]()
        for try await result in group { results.append(result) }
        return results.sorted { $0.0 < $1.0 }.map(\.1)
    }
}

/// Endpoints that threads publish for each other.
final class EndpointBoard: Sendable {
    private let table = Mutex<[Int: [String]]>([:])
    func publish(_ rank: Int, _ endpoints: [String]) { table.withLock { $0[rank] = endpoints } }
    func endpoints(_ rank: Int) -> [String] { table.withLock { $0[rank] ?? [] } }
}

/// One case of the fragment planes' property tests: an all-reduce with `algorithm` of `count`
/// elements in chunks of `chunk`, at `misalignment` bytes past a 64-byte boundary, run three times
/// back to back (a rank that finishes first starts the next at once, and its pieces wait in the
/// early store of a slower one); each rank's count of wrong values after each.
func fragmentAllReduce<Plane: FragmentPlane & Sendable>(
    _ planes: [Plane], algorithm: AllReduceAlgorithm, count: Int, chunk: Int, misalignment: Int
) async throws -> [[Int]] {
    let ranks = planes.count
    return try await onThreads(ranks) { rank -> [Int] in
        let storage = UnsafeMutableRawPointer.allocate(byteCount: count * 4 + 16, alignment: 64)
        defer { storage.deallocate() }
        let buffer = storage + misalignment
        var schedule = CollectiveSchedule(rank: rank, ranks: ranks)
        algorithm.appendFlat(
            to: &schedule, group: Array(0..<ranks), range: ElementRange(offset: 0, count: count), chunkElements: chunk)
        return try (0..<3).map { collective in
            ExactPattern.fill(buffer, count: count, rank: rank, ranks: ranks)
            try FragmentExecutor.run(
                schedule, buffer: buffer, elementCount: count, on: planes[rank], collectiveID: UInt64(10 + collective),
                timeout: .seconds(60))
            return ExactPattern.countWrong(buffer, count: count, ranks: ranks)
        }
    }
}
