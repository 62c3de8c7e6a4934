import Foundation
import StraitsWire
import Testing
import ZeroMQ

/// A peer that speaks the control protocol but not honestly: what it sends is refused or
/// dropped with a reason, and the coordinator neither crashes nor fills its files.
@Suite("strangers on the control plane", .serialized)
struct StrangerTests {
    /// A DEALER that speaks to the coordinator directly, as a small script would.
    final class Stranger {
        var socket: ZMQSocket

        init(_ endpoint: String) throws {
            var socket = try ZMQSocket(.dealer, linger: .zero)
            try socket.connect(endpoint)
            self.socket = socket
        }

        func send(_ message: ControlMessage) throws {
            try sendRaw(message.encoded())
        }

        func sendRaw(_ frames: [[UInt8]]) throws {
            var message = ZMQMessage()
            for frame in frames { message.append(frame) }
            try socket.blockingSend(message, timeout: .seconds(5))
        }

        /// The next message within 100 ms, or nil.
        func receive() throws -> ControlMessage? {
            do {
                let received = try socket.blockingReceive(timeout: .milliseconds(100))
                return try ControlMessage(frames: (0..<received.count).map { received.bytes($0) })
            } catch let error as ZMQError where error.code == .timedOut {
                return nil
            }
        }

        /// The next message that is not a heartbeat, within `seconds`.
        func next(within seconds: Double = 5) throws -> ControlMessage? {
            let deadline = Date(timeIntervalSinceNow: seconds)
            while Date() < deadline {
                guard let message = try receive() else { continue }
                if case .heartbeat = message { continue }
                return message
            }
            return nil
        }

        /// Waits for the first heartbeat (admission), within `seconds`.
        func admitted(within seconds: Double = 5) throws -> Bool {
            let deadline = Date(timeIntervalSinceNow: seconds)
            while Date() < deadline {
                if case .heartbeat? = try receive() { return true }
            }
            return false
        }
    }

    static let topology = "name: one\nregions:\n  - { name: r, hosts: 2, devices_per_host: 1 }\n"
    static let job = "name: j\nsteps: 4\ngradient: 64KiB\ncompute: 1ms\ntimeout: 5s\n"

    static func join(host: Int, region: String = "r") -> ControlMessage {
        .join(.init(region: region, host: host, devices: 1, numaNodes: 1, endpoints: ["tcp://127.0.0.1:9"], pid: 1))
    }

    @Test(
        "a join as host −1 is dropped; an admitted stranger's overflowing counters and absurd probe result are dropped; the coordinator stays up, and SIGKILL leaves a summary saying it was running"
    )
    func outOfRange() throws {
        let cluster = try LocalCluster(name: "stranger")
        let endpoint = try cluster.startCoordinator(
            topology: try cluster.write("one.yaml", Self.topology), job: try cluster.write("job.yaml", Self.job),
            extra: ["--join-timeout-s", "60"])
        // A join as host −1 is out of bounds: dropped as malformed, never admitted.
        let stranger = try Stranger(endpoint)
        try stranger.send(Self.join(host: -1))
        #expect(try !stranger.admitted(within: 1), "a join as host -1 was admitted")

        let member = try Stranger(endpoint)
        try member.send(Self.join(host: 0))
        #expect(try member.admitted(), "a well-formed join was not admitted")
        var traffic = ControlMessage.Traffic()
        traffic.wanTxBytes = ["r": Int.max]
        try member.send(.heartbeat(.init(seq: 1, traffic: traffic)))
        try member.send(
            .probed(.init(peerWorker: 1, link: .init(alphaS: 1e300, betaSPerByte: 1e-9))))
        try member.send(.heartbeat(.init(seq: 2, computeS: -5)))

        // Both are dropped with what was out of range; the coordinator goes on.
        let deadline = Date(timeIntervalSinceNow: 10)
        var events = ""
        while Date() < deadline {
            events = (try? String(contentsOfFile: cluster.runDirectory + "/events.jsonl", encoding: .utf8)) ?? ""
            if events.contains("alpha_s") && events.contains("compute_s") && events.contains("host -1") { break }
            usleep(50_000)
        }
        #expect(events.contains("host -1 is outside 0…"), "\(events)")
        #expect(events.contains("traffic.wan_tx_bytes[r] 9223372036854775807 is outside"), "\(events)")
        #expect(events.contains("link.alpha_s 1e+300 is outside"), "\(events)")
        #expect(events.contains("compute_s -5.0 is outside"), "\(events)")
        #expect(cluster.coordinator!.isRunning, "the coordinator exited: \(cluster.log("coordinator"))")

        let summary = try cluster.summary()
        #expect(summary["status"] as? String == "running")
        kill(cluster.coordinator!.processIdentifier, SIGKILL)
        cluster.coordinator!.waitUntilExit()
        #expect(try cluster.summary()["status"] as? String == "running")
        _ = try cluster.lines("events.jsonl")  // every line whole
    }

    @Test("a thousand refused joins and a hundred oversized ones leave events.jsonl and the log small")
    func refusalsBounded() throws {
        let cluster = try LocalCluster(name: "refusals")
        let endpoint = try cluster.startCoordinator(
            topology: try cluster.write("one.yaml", Self.topology), job: try cluster.write("job.yaml", Self.job),
            extra: ["--join-timeout-s", "60"])
        let stranger = try Stranger(endpoint)
        for index in 0..<1000 { try stranger.send(Self.join(host: 0, region: "nowhere-\(index)")) }
        let megabyte = String(repeating: "x", count: 1 << 20)
        for _ in 0..<100 { try stranger.send(Self.join(host: 0, region: megabyte)) }
        // The refusals come back: every one of them.
        var refusals = 0
        while refusals < 1000, case .refuse? = try stranger.next(within: 10) { refusals += 1 }
        #expect(refusals == 1000)
        usleep(300_000)
        #expect(cluster.coordinator!.isRunning)
        let events = try Data(contentsOf: URL(fileURLWithPath: cluster.runDirectory + "/events.jsonl"))
        #expect(events.count < 64 << 10, "events.jsonl grew to \(events.count) bytes")
        #expect(
            cluster.log("coordinator").utf8.count < 64 << 10,
            "the log grew to \(cluster.log("coordinator").utf8.count) bytes")
        let lines = try cluster.lines("events.jsonl")
        #expect(lines.filter { $0["event"] as? String == "refused" }.count == 21)  // the first 20 and the 1000th
        kill(cluster.coordinator!.processIdentifier, SIGINT)
        #expect(LocalCluster.wait(cluster.coordinator!, timeout: 10) == 130)
        #expect(try cluster.summary()["status"] as? String == "failed")
    }
}
