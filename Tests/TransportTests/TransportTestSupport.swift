import Foundation
import Synchronization

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
