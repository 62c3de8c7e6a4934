import ClusterCore
import Foundation
import StraitsWire
import Transport
import ZeroMQ

/// Hands commands from a worker's control thread to its device threads and results back.
/// Threads sleep on a condition variable with deadlines; nothing spins.
final class DeviceBoard: @unchecked Sendable {
    // Unchecked Sendable: every field is read and written under `condition`'s lock.
    enum Command: Sendable {
        /// A command from the coordinator, in the order `WorkerCommandQueue` hands them out.
        case run(WorkerCommandQueue.Command)
        case quit
    }

    typealias Outcome = WorkerCommandQueue.DeviceOutcome

    private let condition = NSCondition()
    private let devices: Int
    private var sequence = 0
    private var command: Command?
    private var outcomes: [Int: Outcome] = [:]
    private var failure: String?

    /// Rung when a device finishes or fails, so the control thread wakes at once.
    let doorbell: ZMQDoorbell

    init(devices: Int) throws {
        self.devices = devices
        doorbell = try ZMQDoorbell()
    }

    /// Posts the next command to every device thread.
    func post(_ command: Command) {
        condition.lock()
        sequence += 1
        self.command = command
        outcomes = [:]
        condition.broadcast()
        condition.unlock()
    }

    /// The command after `seen`, waiting up to `timeout`; nil when none came.
    func next(after seen: Int, timeout: Double) -> (Int, Command)? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while sequence == seen {
            if !condition.wait(until: deadline) { break }
        }
        guard sequence > seen, let command else { return nil }
        return (sequence, command)
    }

    func finish(device: Int, _ outcome: Outcome) {
        condition.lock()
        outcomes[device] = outcome
        condition.broadcast()
        condition.unlock()
        doorbell.ring()
    }

    func fail(device: Int, _ reason: String) {
        condition.lock()
        if failure == nil { failure = "device \(device): \(reason)" }
        condition.broadcast()
        condition.unlock()
        doorbell.ring()
    }

    /// Waits up to `timeout` for every device's outcome. Returns them when all are in, nil if
    /// the wait ran out; throws when a device failed.
    func outcomes(timeout: Double) throws -> [Int: Outcome]? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while outcomes.count < devices && failure == nil {
            if !condition.wait(until: deadline) { break }
        }
        if let failure { throw RuntimeError(.peerFailed, failure) }
        return outcomes.count == devices ? outcomes : nil
    }
}
