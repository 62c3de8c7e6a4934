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

        /// A DEALER connected to `endpoint`; with `curve` (server key, own key pair), a CURVE client.
        init(_ endpoint: String, curve: (server: String, own: ZMQCurveKeyPair)? = nil) throws {
            var socket = try ZMQSocket(.dealer, linger: .zero)
            if let curve {
                try socket.setCurveClient(
                    serverKey: curve.server, publicKey: curve.own.publicKey, secretKey: curve.own.secretKey)
            }
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

    /// Starts a coordinator of `topology` and `job` in `cluster` that waits a minute for joins.
    static func startCoordinator(_ cluster: LocalCluster, extra: [String] = []) throws -> String {
        try cluster.startCoordinator(
            topology: try cluster.write("one.yaml", topology), job: try cluster.write("job.yaml", job),
            extra: ["--join-timeout-s", "60"] + extra)
    }

    static func join(host: Int, region: String = "r") -> ControlMessage {
        .join(.init(region: region, host: host, devices: 1, numaNodes: 1, endpoints: ["tcp://127.0.0.1:9"], pid: 1))
    }

    @Test(
        "a join as host −1 is dropped; an admitted stranger's overflowing counters drop it, freeing its seat, and its absurd probe result is dropped; the coordinator stays up, and SIGKILL leaves a summary saying it was running"
    )
    func outOfRange() throws {
        let cluster = try LocalCluster(name: "stranger")
        let endpoint = try Self.startCoordinator(cluster)
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

        // The first is out of bounds: the member is dropped, told why, and its seat is free again.
        guard case .refuse(let refusal)? = try member.next() else {
            Issue.record("the member was not told it was dropped")
            return
        }
        #expect(refusal.reason.contains("r/host 0 (pid 1) was dropped") && refusal.reason.contains("wan_tx_bytes"))
        let successor = try Stranger(endpoint)
        try successor.send(Self.join(host: 0))
        #expect(try successor.admitted(), "the dropped member's seat was not free again")

        // Every message is dropped with what was out of range; the coordinator goes on.
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
        #expect(events.contains("\"member_dropped\""), "\(events)")
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
        let endpoint = try Self.startCoordinator(cluster)
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
        // The coordinator is still running: a line it is writing now is left out.
        let lines = try cluster.lines("events.jsonl", live: true)
        #expect(lines.filter { $0["event"] as? String == "refused" }.count == 21)  // the first 20 and the 1000th
        kill(cluster.coordinator!.processIdentifier, SIGINT)
        #expect(LocalCluster.wait(cluster.coordinator!, timeout: 10) == 130)
        #expect(try cluster.summary()["status"] as? String == "failed")
    }

    /// Makes a cluster's keys with `straits keys`; the directory and the keys in it.
    static func clusterKeys(in cluster: LocalCluster) throws -> (
        directory: String, server: String, member: ZMQCurveKeyPair
    ) {
        let directory = cluster.directory.appendingPathComponent("keys").path
        let process = Process()
        process.executableURL = try straitsBinary()
        process.arguments = ["keys", directory]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        func pair(_ name: String) throws -> ZMQCurveKeyPair {
            let text = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            let keys = text.matches(of: /(public|secret)-key = "([^"]{40})"/).map { String($0.output.2) }
            return ZMQCurveKeyPair(publicKey: keys[0], secretKey: keys[1])
        }
        return (directory, try pair("cluster.key").publicKey, try pair("member.key"))
    }

    @Test(
        "with CURVE, a peer without the cluster's keys cannot join, in plaintext or with a key of its own; the refusals are logged once per window; a member with the keys is admitted"
    )
    func curveKeepsStrangersOut() throws {
        let cluster = try LocalCluster(name: "curve")
        let keys = try Self.clusterKeys(in: cluster)
        let endpoint = try Self.startCoordinator(cluster, extra: ["--keys", keys.directory])
        let plaintext = try Stranger(endpoint)
        try plaintext.send(Self.join(host: 0))
        #expect(try plaintext.next(within: 1) == nil, "a plaintext peer got an answer")
        for _ in 0..<3 {
            let impostor = try Stranger(endpoint, curve: (keys.server, try ZMQCurveKeyPair.generate()))
            try impostor.send(Self.join(host: 0))
            #expect(try !impostor.admitted(within: 1), "a peer with a key of its own was admitted")
        }
        let member = try Stranger(endpoint, curve: (keys.server, keys.member))
        try member.send(Self.join(host: 0))
        #expect(try member.admitted(), "a member with the cluster's keys was not admitted")
        let log = cluster.log("coordinator")
        #expect(log.components(separatedBy: "refused a CURVE handshake").count - 1 == 1, "\(log)")
        #expect(cluster.coordinator!.isRunning)
    }

    /// Runs a 2-host sync job on loopback, captured by tcpdump; how many places in the capture
    /// hold 4 consecutive float32 values of a rank's check pattern (j·P + r, stride P = 2).
    static func patternsOnTheWire(curve: Bool) throws -> Int {
        let cluster = try LocalCluster(name: curve ? "capture-curve" : "capture-plain")
        let keys = curve ? ["--keys", try Self.clusterKeys(in: cluster).directory] : []
        let capture = cluster.directory.appendingPathComponent("lo.pcap").path
        let tcpdump = Process()
        tcpdump.executableURL = URL(fileURLWithPath: "/usr/bin/tcpdump")
        tcpdump.arguments = ["-i", "lo", "-U", "-s", "0", "-w", capture, "tcp"]
        tcpdump.standardError = FileHandle.nullDevice
        tcpdump.standardOutput = FileHandle.nullDevice
        try tcpdump.run()
        defer { if tcpdump.isRunning { kill(tcpdump.processIdentifier, SIGKILL) } }
        usleep(1_000_000)  // tcpdump opens the interface
        let endpoint = try cluster.startCoordinator(
            topology: try cluster.write("one.yaml", Self.topology),
            job: try cluster.write("job.yaml", "name: j\nsteps: 3\ngradient: 64KiB\ncompute: 1ms\ntimeout: 20s\n"),
            extra: keys)
        for host in 0..<2 { try cluster.startWorker(endpoint, region: "r", host: host, devices: 1, extra: keys) }
        #expect(LocalCluster.wait(cluster.coordinator!, timeout: 60) == 0, "\(cluster.log("coordinator"))")
        usleep(300_000)
        // tcpdump -U has written every packet as it came; a signal it may inherit blocked is
        // followed by one it cannot.
        kill(tcpdump.processIdentifier, SIGTERM)
        if LocalCluster.wait(tcpdump, timeout: 2) == nil { kill(tcpdump.processIdentifier, SIGKILL) }
        _ = LocalCluster.wait(tcpdump, timeout: 5)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: capture)))
        #expect(bytes.count > 64 << 10, "the capture holds \(bytes.count) bytes")
        var found = 0
        bytes.withUnsafeBytes { raw in
            guard raw.count >= 16 else { return }
            for offset in 0...(raw.count - 16) {
                let a = raw.loadUnaligned(fromByteOffset: offset, as: Float.self)
                guard a >= 64, a < 4_194_304, a == a.rounded() else { continue }
                if raw.loadUnaligned(fromByteOffset: offset + 4, as: Float.self) == a + 2,
                    raw.loadUnaligned(fromByteOffset: offset + 8, as: Float.self) == a + 4,
                    raw.loadUnaligned(fromByteOffset: offset + 12, as: Float.self) == a + 6
                {
                    found += 1
                }
            }
        }
        return found
    }

    @Test(
        "a capture of the loopback link holds the gradients' bytes in plaintext and none of them with CURVE",
        .enabled(
            if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/tcpdump"), "tcpdump needs root")
    )
    func captureSeesNothingUnderCurve() throws {
        let plain = try Self.patternsOnTheWire(curve: false)
        let sealed = try Self.patternsOnTheWire(curve: true)
        #expect(plain > 100, "plaintext: \(plain) places in the capture hold the pattern")
        #expect(sealed == 0, "CURVE: \(sealed) places in the capture hold the pattern")
    }

    @Test(
        "with CURVE, data pushed at a worker's data socket without the cluster's keys never reaches a rank: the job finishes with no message rejected, and the worker logs the refused handshake"
    )
    func curveKeepsDataOut() throws {
        let cluster = try LocalCluster(name: "curve-data")
        let keys = try Self.clusterKeys(in: cluster)
        let extra = ["--keys", keys.directory]
        let endpoint = try cluster.startCoordinator(
            topology: try cluster.write("one.yaml", Self.topology),
            job: try cluster.write("job.yaml", "name: j\nsteps: 40\ngradient: 64KiB\ncompute: 20ms\ntimeout: 20s\n"),
            extra: extra)
        for host in 0..<2 { try cluster.startWorker(endpoint, region: "r", host: host, devices: 1, extra: extra) }
        let deadline = Date(timeIntervalSinceNow: 30)
        while Date() < deadline, cluster.recordedSteps() < 4 { usleep(50_000) }
        let plan =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: cluster.runDirectory + "/plan.json"))) as? [String: Any]
        let workers = try #require(plan?["workers"] as? [[String: Any]])
        let dataEndpoint = try #require((workers[0]["endpoints"] as? [String])?.first)
        var header = DataFrameHeader(
            sourceRank: 1, step: 5, collectiveID: UInt64(CollectiveIDs.step(5)), tag: 1, offsetBytes: 0, lengthBytes: 8)
        header.epoch = 1
        for curve in [false, true] {
            var push = try ZMQSocket(.push, linger: .zero)
            if curve {
                let own = try ZMQCurveKeyPair.generate()
                try push.setCurveClient(serverKey: keys.server, publicKey: own.publicKey, secretKey: own.secretKey)
            }
            try push.connect(dataEndpoint)
            for _ in 0..<20 {
                var message = ZMQMessage()
                message.append(header.encoded)
                message.append([UInt8](repeating: 0x41, count: 8))
                _ = try push.trySend(message)
            }
            usleep(500_000)  // the handshake is tried (and refused) while the socket lives
        }
        #expect(LocalCluster.wait(cluster.coordinator!, timeout: 60) == 0, "\(cluster.log("coordinator"))")
        let summary = try cluster.summary()
        #expect(summary["rejected_data_messages"] as? Int == 0, "a forged data message reached a rank")
        #expect(cluster.log("worker-r-0").contains("refused a CURVE handshake"), "\(cluster.log("worker-r-0"))")
    }

    @Test(
        "a flood of 4 MiB data messages at a worker that reads none (it waits for its plan) grows its peak memory by no more than its data socket's queue bound, and the sender is held back"
    )
    func dataFloodBounded() throws {
        let cluster = try LocalCluster(name: "data-flood")
        let endpoint = try Self.startCoordinator(cluster)
        // One host of two: admitted, it waits for a plan that does not come, reading no data.
        try cluster.startWorker(endpoint, region: "r", host: 0, devices: 1, extra: ["--transport", "ipc"])
        let worker = try #require(cluster.workers["worker-r-0"])
        let deadline = Date(timeIntervalSinceNow: 20)
        while Date() < deadline, !cluster.log("coordinator").contains("admitted r/host 0") { usleep(50_000) }
        let before = try Self.peakMemory(worker)
        var flood = try ZMQSocket(.push, linger: .zero)
        try flood.setSendHighWaterMark(1)
        try flood.connect("ipc://" + NSTemporaryDirectory() + "straits-\(worker.processIdentifier)-device0.ipc")
        let header = DataFrameHeader(
            sourceRank: 1, step: 0, collectiveID: 1, tag: 1, offsetBytes: 0, lengthBytes: 4 << 20)
        let payload = [UInt8](repeating: 0x5A, count: 4 << 20)
        var sent = 0
        var stalled = ContinuousClock.now
        while sent < 128 && ContinuousClock.now - stalled < .seconds(2) {
            var message = ZMQMessage()
            message.append(header.encoded)
            message.append(payload)
            if try flood.trySend(message) == nil {
                sent += 1
                stalled = ContinuousClock.now
            } else {
                usleep(10_000)
            }
        }
        usleep(300_000)
        let growth = try Self.peakMemory(worker) - before
        #expect(worker.isRunning, "\(cluster.log("worker-r-0"))")
        // 32 queued messages of 4 MiB are 128 MiB; what the kernel's socket buffers hold is not
        // the worker's memory.
        #expect(sent < 128, "all \(sent) messages of 4 MiB went out")
        #expect(growth < 160 << 20, "peak memory grew by \(growth >> 20) MiB after \(sent) messages of 4 MiB")
    }

    /// Sends `message` within `timeout`; the error, if it fails.
    static func send(_ message: consuming ZMQMessage, on socket: inout ZMQSocket, timeout: Duration) -> ZMQError? {
        do {
            try socket.blockingSend(message, timeout: timeout)
            return nil
        } catch {
            return error
        }
    }

    /// The coordinator's peak resident memory (VmHWM), bytes.
    static func peakMemory(_ process: Process) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? ""))
            * 1024
    }

    @Test(
        "a control message of 48 frames of 4 MiB: refused for its frame count without a copy of what it carries (peak memory grows by less than twice its size), and under CURVE a stranger cannot send it at all"
    )
    func manyLargeFrames() throws {
        for curve in [false, true] {
            let cluster = try LocalCluster(name: curve ? "frames-curve" : "frames")
            let extra = curve ? ["--keys", try Self.clusterKeys(in: cluster).directory] : []
            let endpoint = try Self.startCoordinator(cluster, extra: extra)
            usleep(300_000)
            let before = try Self.peakMemory(cluster.coordinator!)
            let stranger = try Stranger(endpoint)
            var message = ZMQMessage()
            message.append(ControlMessage.envelope(.heartbeat))
            for _ in 0..<47 { message.append([UInt8](repeating: 0x7B, count: (4 << 20) - 64)) }
            // Once the coordinator has refused its handshake, a CURVE stranger's DEALER has no peer
            // to queue the message for (on a loaded machine, before it even tries): it cannot send
            // it at all, and its send runs out of time.
            if let failure = Self.send(message, on: &stranger.socket, timeout: .seconds(curve ? 3 : 10)),
                !(curve && failure.code == .timedOut)
            {
                throw failure
            }
            let size = 47 * ((4 << 20) - 64)
            // Wait until the coordinator has read it (or, under CURVE, until it could have).
            let deadline = Date(timeIntervalSinceNow: 10)
            while Date() < deadline {
                let events =
                    (try? String(contentsOfFile: cluster.runDirectory + "/events.jsonl", encoding: .utf8)) ?? ""
                if events.contains("48 frames") { break }
                usleep(100_000)
                if curve && Date() > deadline - 8 { break }
            }
            let growth = try Self.peakMemory(cluster.coordinator!) - before
            #expect(cluster.coordinator!.isRunning)
            if curve {
                #expect(growth < 32 << 20, "under CURVE the coordinator grew by \(growth >> 20) MiB")
            } else {
                let events = try String(contentsOfFile: cluster.runDirectory + "/events.jsonl", encoding: .utf8)
                #expect(events.contains("48 frames"), "\(events.suffix(2000))")
                #expect(growth < 2 * size, "peak memory grew by \(growth >> 20) MiB for a \(size >> 20) MiB message")
            }
        }
    }
}
