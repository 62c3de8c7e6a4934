import Foundation
import Synchronization
import Testing
import ZeroMQ

/// The transports a test runs over.
enum Transport: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inproc, ipc, tcp

    var testDescription: String { rawValue }

    /// A fresh endpoint to bind; tcp lets libzmq choose the port.
    func endpoint(_ name: String) -> String {
        let unique = "\(name)-\(getpid())-\(nextEndpointNumber.add(1, ordering: .relaxed).newValue)"
        switch self {
        case .inproc: return "inproc://\(unique)"
        case .ipc: return "ipc:///tmp/straits-test-\(unique).sock"
        case .tcp: return "tcp://127.0.0.1:*"
        }
    }
}

private let nextEndpointNumber = Atomic<Int>(0)

/// Runs `body` with a bound socket and a socket connected to it.
func withConnectedPair<Result>(
    _ transport: Transport,
    _ boundType: ZMQSocketType,
    _ connectedType: ZMQSocketType,
    context: ZMQContext = .shared,
    _ body: (inout ZMQSocket, inout ZMQSocket) async throws -> Result
) async throws -> Result {
    var bound = try ZMQSocket(boundType, context: context)
    let endpoint = try bound.bind(transport.endpoint("pair"))
    // An ipc socket file outlives its socket unless removed.
    defer { if endpoint.hasPrefix("ipc://") { unlink(String(endpoint.dropFirst("ipc://".count))) } }
    var connected = try ZMQSocket(connectedType, context: context)
    try connected.connect(endpoint)
    return try await body(&bound, &connected)
}

/// A deterministic byte pattern, so a receiver can check every byte it got.
func pattern(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
}

/// A counter that closures on other threads can share.
final class Counter: Sendable {
    private let storage = Atomic<Int>(0)

    func increment() { storage.add(1, ordering: .relaxed) }
    var value: Int { storage.load(ordering: .relaxed) }
}

/// An owner object that counts its own deinitialisation.
final class CountingOwner: Sendable {
    let deinits: Counter

    init(deinits: Counter) { self.deinits = deinits }

    deinit { deinits.increment() }
}

/// Waits (sleeping, with a deadline) until `condition` holds; returns whether it did.
func eventually(within timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}

extension ZMQMessage {
    /// Copies of every frame, so expectations can look at a message without borrowing it.
    var allFrames: [[UInt8]] {
        (0..<count).map { bytes($0) }
    }
}

/// The UTF-8 bytes of a string, for comparing with frames.
func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }
