import Emulation
import Foundation
import Logging
import StraitsWire
import Synchronization
import ZeroMQ

/// Times across hosts: the coordinator's monotonic clock is the cluster's. A gateway stamps each
/// arrival frame in cluster time and a rank reads it in its own, each converting with its
/// process's offset to the coordinator (`offset`), measured once after it is admitted. Processes
/// that reach the coordinator on this machine (loopback, ipc) share its clock: offset 0, exactly.
public enum ClockSync {
    /// Cluster (coordinator) time minus this process's clock, nanoseconds.
    public static let offset = Atomic<Int64>(0)

    /// This process's clock in cluster time.
    public static func toCluster(_ local: Int64) -> Int64 { local &+ offset.load(ordering: .relaxed) }

    /// Cluster time on this process's clock.
    public static func toLocal(_ cluster: Int64) -> Int64 { cluster &- offset.load(ordering: .relaxed) }

    /// Measures this process's offset to the coordinator with `rounds` ping-pongs on the control
    /// socket (each waits at most `timeout`), sets `offset`, and returns the estimate with any
    /// other messages that arrived meanwhile, for the caller to handle in order.
    public static func measure(
        on socket: inout ZMQSocket, rounds: Int = 32, timeout: Duration = .milliseconds(500)
    ) throws -> (estimate: ClockOffsetEstimate, other: [[[UInt8]]]) {
        var estimate = ClockOffsetEstimate()
        var other: [[[UInt8]]] = []
        let clock = SystemClock.shared
        for seq in 0..<rounds {
            let sent = clock.now()
            try ControlLink.send(.clock(.init(seq: seq, memberNs: sent)), on: &socket)
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                guard let frames = try ControlLink.receiveFrames(on: &socket, timeout: deadline - .now) else { break }
                let received = clock.now()
                if case .clock(let reply)? = try? ControlMessage(frames: frames) {
                    if reply.seq == seq, reply.memberNs == sent, let stamp = reply.coordinatorNs {
                        estimate.add(sent: sent, reply: stamp, received: received)
                        break
                    }
                    continue  // a late answer to an earlier round
                }
                other.append(frames)
            }
        }
        if estimate.samples > 0 { offset.store(estimate.offset, ordering: .relaxed) }
        return (estimate, other)
    }

    /// Whether a process that reaches the coordinator at `endpoint` reads the coordinator's clock
    /// (ipc, inproc, or TCP on a loopback address).
    public static func sharesClock(coordinator endpoint: String) -> Bool {
        DataTransport.isLocal(endpoint)
    }
}
