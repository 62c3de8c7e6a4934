import Foundation
import Transport

/// Buckets from a device thread to its communication thread, and their results back. Waits
/// sleep on a condition variable with deadlines.
final class BucketPipe: @unchecked Sendable {
    // Unchecked Sendable: every field is read and written under `condition`'s lock.
    private let condition = NSCondition()
    private var queue: [TrainingDevice.Bucket] = []
    private var finished = 0
    private var times = TrainingDevice.LevelTimes()
    private var failure: String?
    private var closed = false
    /// Whether the communication thread is all-reducing a bucket it took.
    private var busy = false

    func post(_ bucket: TrainingDevice.Bucket) {
        condition.lock()
        queue.append(bucket)
        condition.broadcast()
        condition.unlock()
    }

    /// The next bucket, or nil once the pipe is closed.
    func next() -> TrainingDevice.Bucket? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !closed {
            _ = condition.wait(until: Date(timeIntervalSinceNow: 1))
        }
        if closed { return nil }
        busy = true
        return queue.removeFirst()
    }

    func finish(_ result: TrainingDevice.LevelTimes) {
        condition.lock()
        busy = false
        finished += 1
        times = times + result
        condition.broadcast()
        condition.unlock()
    }

    func fail(_ reason: String) {
        condition.lock()
        busy = false
        if failure == nil { failure = reason }
        finished += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until `count` buckets are done; returns their summed level times and starts over.
    func waitAll(_ count: Int, timeout: Duration) throws -> TrainingDevice.LevelTimes {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout.inSeconds)
        while finished < count && failure == nil {
            if !condition.wait(until: deadline) { break }
        }
        if let failure { throw RuntimeError(.peerFailed, "bucket all-reduce failed: \(failure)") }
        guard finished >= count else {
            throw RuntimeError(
                .timedOut, "\(count - finished) of \(count) gradient buckets were not all-reduced within \(timeout)")
        }
        let result = times
        finished = 0
        times = TrainingDevice.LevelTimes()
        return result
    }

    /// Drops the buckets not yet taken, waits (up to `timeout`) for the one the communication
    /// thread runs, and starts over.
    func drain(timeout: Duration) throws {
        condition.lock()
        defer { condition.unlock() }
        queue.removeAll()
        let deadline = Date(timeIntervalSinceNow: timeout.inSeconds)
        while busy {
            if !condition.wait(until: deadline) {
                throw RuntimeError(.timedOut, "a bucket's all-reduce did not give up within \(timeout)")
            }
        }
        finished = 0
        failure = nil
        times = TrainingDevice.LevelTimes()
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
