import Foundation

/// PUSH/PULL throughput between two processes, Straits' ZeroMQ module against the C reference,
/// over tcp and ipc. Rounds alternate which implementation goes first; each figure is the
/// median over rounds of (messages − 1) × size / (time from first to last message).
struct ZMQThroughputBenchmark {
    let reference: String
    let sizes: [Int]
    let transports: [String]
    let rounds: Int
    let highWaterMark = 100
    /// Bytes to move per run (each run sends at least 20 messages).
    let bytesPerRun = 1 << 30

    init(arguments: Options) throws {
        reference = try arguments.string("reference")
        sizes = try arguments.sizes("sizes", default: "1M,16M")
        transports = try arguments.string("transports", default: "tcp,ipc").split(separator: ",").map(String.init)
        rounds = try arguments.int("rounds", default: 11)
    }

    /// One way of sending and receiving: the C reference, or Straits' module with either wait.
    private struct Implementation {
        let name: String
        let program: String
        let receive: String
        let send: String
        let extra: [String]
    }

    func run() throws {
        print(
            "ZeroMQ PUSH→PULL throughput between two processes, zero-copy sends, HWM \(highWaterMark); median of \(rounds) interleaved rounds"
        )
        print(
            "Swift blocking: waits inside libzmq on its own thread, as a worker's device threads do; Swift async: waits on the poller thread (control plane, async code)"
        )
        print("transport  size       C GB/s  Swift blocking  ratio  Swift async  ratio")
        let me = CommandLine.arguments[0]
        let implementations = [
            Implementation(name: "C", program: reference, receive: "recv", send: "send", extra: []),
            Implementation(name: "blocking", program: me, receive: "zmq-recv", send: "zmq-send", extra: ["blocking"]),
            Implementation(name: "async", program: me, receive: "zmq-recv", send: "zmq-send", extra: ["async"]),
        ]
        for transport in transports {
            for size in sizes {
                let count = max(20, bytesPerRun / size)
                var rates = [[Double]](repeating: [], count: implementations.count)
                for round in 0..<rounds {
                    for step in 0..<implementations.count {
                        let which = (step + round) % implementations.count
                        let implementation = implementations[which]
                        let endpoint = endpointFor(transport, round: round, which: which)
                        let elapsed = try runPair(
                            program: implementation.program, receive: implementation.receive, send: implementation.send,
                            arguments: [endpoint, "\(size)", "\(count)", "\(highWaterMark)"] + implementation.extra)
                        rates[which].append(Double((count - 1) * size) / elapsed / 1e9)
                    }
                }
                let (c, blocking, async) = (median(rates[0]), median(rates[1]), median(rates[2]))
                print(
                    pad(transport, 10), pad(formatSize(size), 9),
                    String(format: "%7.2f  %14.2f  %5.3f  %11.2f  %5.3f", c, blocking, blocking / c, async, async / c))
            }
        }
    }

    private func endpointFor(_ transport: String, round: Int, which: Int) -> String {
        switch transport {
        case "ipc": return "ipc:///tmp/straits-bench-\(getpid())-\(round)-\(which).sock"
        default: return "tcp://127.0.0.1:\(47_000 + round * 4 + which)"
        }
    }

    /// Starts the receiver, waits for its "ready", runs the sender, and returns the receiver's
    /// seconds. Both are killed if they outlast two minutes.
    private func runPair(program: String, receive: String, send: String, arguments: [String]) throws -> Double {
        let receiver = Process()
        receiver.executableURL = URL(fileURLWithPath: program)
        receiver.arguments = [receive] + arguments
        let output = Pipe()
        receiver.standardOutput = output
        try receiver.run()
        defer { if receiver.isRunning { receiver.terminate() } }
        let reader = output.fileHandleForReading
        var text = ""
        while !text.contains("ready\n") {
            let chunk = reader.availableData
            if chunk.isEmpty { throw BenchmarkError("\(program) \(receive) exited before it was ready") }
            text += String(decoding: chunk, as: UTF8.self)
        }

        let sender = Process()
        sender.executableURL = URL(fileURLWithPath: program)
        sender.arguments = [send] + arguments
        try sender.run()
        defer { if sender.isRunning { sender.terminate() } }

        let watchdog = DispatchWorkItem {
            if receiver.isRunning { receiver.terminate() }
            if sender.isRunning { sender.terminate() }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: watchdog)
        defer { watchdog.cancel() }

        text += String(decoding: reader.readDataToEndOfFile(), as: UTF8.self)
        receiver.waitUntilExit()
        sender.waitUntilExit()
        guard receiver.terminationStatus == 0, sender.terminationStatus == 0,
            let seconds = text.split(separator: "\n").last.flatMap({ Double($0) })
        else {
            throw BenchmarkError(
                "\(program) \(arguments): receiver exit \(receiver.terminationStatus), sender exit \(sender.terminationStatus), output \(text)"
            )
        }
        return seconds
    }
}
