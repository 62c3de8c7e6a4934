import Foundation
import StraitsWire
import Testing
import ZeroMQ

@testable import Services
@testable import Transport

@Suite("data transport")
struct DataTransportTests {
    @Test("tcp binds a kernel-chosen port; ipc a socket file named after the process, removed on request")
    func endpoints() throws {
        #expect(DataTransport.tcp.endpoint(address: "10.0.0.7", name: "device0") == "tcp://10.0.0.7:*")
        let endpoint = DataTransport.ipc.endpoint(address: "10.0.0.7", name: "device0")
        let path = NSTemporaryDirectory() + "straits-\(getpid())-device0.ipc"
        #expect(endpoint == "ipc://" + path)

        // A real inbox bound there: the file exists while it is bound, and is gone once removed.
        let plane = try DataPlane(rank: 0, bind: [endpoint])
        #expect(plane.endpoints == [endpoint])
        #expect(FileManager.default.fileExists(atPath: path))
        plane.removeSocketFiles()
        #expect(!FileManager.default.fileExists(atPath: path))
        DataTransport.removeSocketFile(of: "tcp://127.0.0.1:5555")  // nothing to remove, no harm

        // An endpoint says which transport reaches it.
        #expect(DataTransport(endpoint: endpoint) == .ipc)
        #expect(DataTransport(endpoint: "tcp://127.0.0.1:5555") == .tcp)
        #expect(DataTransport(endpoint: "inproc://rank0") == nil)
    }

    @Test(
        "an inbox takes parts up to a data frame's largest payload plus room for its header, drops the connection of a peer that sends more, and queues a bounded number of messages per connection while unread"
    )
    func inboxLimits() throws {
        let plane = try DataPlane(rank: 0, bind: ["tcp://127.0.0.1:*"])
        let endpoint = plane.endpoints[0]
        func message(_ bytes: Int) -> ZMQMessage {
            var message = ZMQMessage()
            message.append([UInt8](repeating: 1, count: 64))
            message.append([UInt8](repeating: 2, count: bytes))
            return message
        }
        // A part one byte over the limit is refused with its connection: nothing reaches the rank.
        var over = try ZMQSocket(.push, linger: .zero)
        try over.connect(endpoint)
        try over.blockingSend(message(DataPlane.maximumPartBytes + 1), timeout: .seconds(5))
        #expect(throws: ZMQError.self) { try plane.inbox.socket.blockingReceive(timeout: .seconds(1)) }
        // The largest payload a frame may carry arrives whole.
        var within = try ZMQSocket(.push, linger: .zero)
        try within.connect(endpoint)
        try within.blockingSend(message(DataFrameHeader.maximumPayloadBytes), timeout: .seconds(5))
        let received = try plane.inbox.socket.blockingReceive(timeout: .seconds(10))
        #expect(received.count == 2 && received.bytes(1).count == DataFrameHeader.maximumPayloadBytes)

        // While the rank does not read, a connection's messages queue only up to the inbox's
        // bound (and what the kernel's socket buffers hold): a sender that may queue one
        // message itself cannot get 128 messages of 1 MiB out.
        var flood = try ZMQSocket(.push, linger: .zero)
        try flood.setSendHighWaterMark(1)
        try flood.connect(endpoint)
        var sent = 0
        var stalled = ContinuousClock.now
        while sent < 128 && ContinuousClock.now - stalled < .seconds(2) {
            if try flood.trySend(message(1 << 20)) == nil {
                sent += 1
                stalled = ContinuousClock.now
            } else {
                usleep(10_000)
            }
        }
        #expect(sent >= DataPlane.receiveQueueMessages && sent < 128, "\(sent) messages of 1 MiB went out")
    }

    @Test("a child stopped by a signal leaves no socket files: they are removed for it, and only its own")
    func stoppedChildSocketFiles() throws {
        let children = ChildProcesses()
        // The shell makes a socket file as a worker names it (its own pid), and one of another process.
        let other = NSTemporaryDirectory() + "straits-999999999-device0.ipc"
        _ = FileManager.default.createFile(atPath: other, contents: nil)
        defer { unlink(other) }
        let process = try children.start(
            "/bin/sh", ["-c", "touch \"$0straits-$$-device0.ipc\"; exec sleep 30", NSTemporaryDirectory()])
        let path = NSTemporaryDirectory() + "straits-\(process.processIdentifier)-device0.ipc"
        let deadline = ContinuousClock.now + .seconds(10)
        while !FileManager.default.fileExists(atPath: path) && ContinuousClock.now < deadline { usleep(10_000) }
        #expect(FileManager.default.fileExists(atPath: path))
        children.stopAll()
        #expect(!process.isRunning)
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(FileManager.default.fileExists(atPath: other))
    }

    @Test("a --transport other than tcp or ipc is refused, naming the flag and the value")
    func parse() throws {
        let base = ["--coordinator", "tcp://127.0.0.1:1", "--region", "a", "--transport"]
        #expect(try WorkerOptions(arguments: base + ["ipc"]).bind.transport == .ipc)
        #expect(throws: RuntimeError.self) { try WorkerOptions(arguments: base + ["udp"]) }
        do {
            _ = try WorkerOptions(arguments: base + ["udp"])
        } catch {
            #expect("\(error)".contains("--transport") && "\(error)".contains("'udp'"), "\(error)")
        }
    }

    @Test("a sweep runs over ipc without checksums unless told; a worker or gateway alone defaults to tcp")
    func defaults() throws {
        let sweep = try SweepOptions(arguments: [])
        #expect(sweep.transport == .ipc && !sweep.checksums)
        let told = try SweepOptions(arguments: ["--transport", "tcp", "--checksums"])
        #expect(told.transport == .tcp && told.checksums)
        #expect(
            try WorkerOptions(arguments: ["--coordinator", "tcp://127.0.0.1:1", "--region", "a"]).bind.transport == .tcp
        )
        let gateway = try GatewayOptions(arguments: [
            "--coordinator", "tcp://127.0.0.1:1", "--region", "a", "--topology", "t.yaml",
            "--transport", "ipc",
        ])
        #expect(gateway.bind.transport == .ipc)
    }

    @Test(
        "ranks wait for arrivals as the coordinator says unless told how; a sweep passes the choice on and refuses others"
    )
    func arrivalWait() throws {
        let base = ["--coordinator", "tcp://127.0.0.1:1", "--region", "a"]
        let auto = try WorkerOptions(arguments: base).arrivalWait
        #expect(auto == .auto)
        #expect(auto.approaches(advice: nil) && auto.approaches(advice: true) && !auto.approaches(advice: false))
        let timer = try WorkerOptions(arguments: base + ["--arrival-wait", "timer"]).arrivalWait
        #expect(!timer.approaches(advice: nil) && !timer.approaches(advice: true))
        let approach = try WorkerOptions(arguments: base + ["--arrival-wait", "approach"]).arrivalWait
        #expect(approach.approaches(advice: false))
        #expect(try SweepOptions(arguments: []).arrivalWait == nil)
        #expect(try SweepOptions(arguments: ["--arrival-wait", "timer"]).arrivalWait == "timer")
        #expect(throws: RuntimeError.self) { try SweepOptions(arguments: ["--arrival-wait", "spin"]) }
        #expect(throws: RuntimeError.self) { try WorkerOptions(arguments: base + ["--arrival-wait", ""]) }
    }

    @Test(
        "a sweep's --chunk sets every level's chunk of its job, in bytes; sizes that are not whole floats are refused")
    func sweepChunk() throws {
        #expect(try SweepOptions(arguments: []).chunkBytes == nil)
        #expect(try SweepOptions(arguments: ["--chunk", "64K"]).chunkBytes == 64 << 10)
        #expect(throws: RuntimeError.self) { try SweepOptions(arguments: ["--chunk", "6"]) }
        #expect(throws: RuntimeError.self) { try SweepOptions(arguments: ["--chunk", "big"]) }
    }
}
