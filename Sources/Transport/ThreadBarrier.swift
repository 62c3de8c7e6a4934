import Foundation

/// A reusable barrier for a worker's device threads, with a deadline on every wait. The waiting
/// threads sleep on a condition variable; nothing spins.
public final class ThreadBarrier: @unchecked Sendable {
    // Unchecked Sendable: all state is guarded by `condition`'s lock.
    private let condition = NSCondition()
    private let parties: Int
    private var arrived = 0
    private var generation = 0
    private var broken: String?

    public init(parties: Int) {
        precondition(parties >= 1, "barrier of \(parties)")
        self.parties = parties
    }

    /// Waits until all parties arrive; throws if `timeout` passes first or the barrier is broken.
    public func wait(timeout: Duration, what: @autoclosure () -> String = "barrier") throws {
        condition.lock()
        defer { condition.unlock() }
        if let broken { throw RuntimeError(.peerFailed, broken) }
        let myGeneration = generation
        arrived += 1
        if arrived == parties {
            arrived = 0
            generation += 1
            condition.broadcast()
            return
        }
        let seconds = timeout.inSeconds
        let deadline = Date(timeIntervalSinceNow: seconds)
        while generation == myGeneration && broken == nil {
            if !condition.wait(until: deadline) && generation == myGeneration {
                let reason = "\(what()): \(arrived) of \(parties) device threads arrived within \(timeout)"
                broken = reason
                condition.broadcast()
                throw RuntimeError(.timedOut, reason)
            }
        }
        if let broken, generation == myGeneration { throw RuntimeError(.peerFailed, broken) }
    }

    /// Makes a broken barrier whole again: called when no thread waits in it (every party has
    /// given up its wait).
    public func reset() {
        condition.lock()
        broken = nil
        arrived = 0
        generation += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Breaks the barrier: every waiter, now and later, fails with `reason`.
    public func breakBarrier(_ reason: String) {
        condition.lock()
        if broken == nil { broken = reason }
        condition.broadcast()
        condition.unlock()
    }
}
