import Foundation
import ZeroMQ

/// One side of a throughput run through Straits' ZeroMQ module, the counterpart of the C
/// reference's `recv` and `send` modes: same sockets, options, sizes and zero-copy sends.
enum ZMQThroughputSide {
    struct Setup {
        let endpoint: String
        let size: Int
        let count: Int
        let highWaterMark: Int
        /// `async` waits through the poller thread; `blocking` waits in `zmq_poll` on the calling
        /// thread, as a device thread of a worker does.
        let blocking: Bool

        init(_ arguments: [String]) throws {
            guard (4...5).contains(arguments.count), let size = Int(arguments[1]), let count = Int(arguments[2]),
                let hwm = Int(arguments[3]), arguments.count == 4 || ["async", "blocking"].contains(arguments[4])
            else {
                throw BenchmarkError("expected ENDPOINT SIZE COUNT HWM [async|blocking], got \(arguments)")
            }
            (endpoint, self.size, self.count, highWaterMark) = (arguments[0], size, count, hwm)
            blocking = arguments.count == 5 && arguments[4] == "blocking"
        }
    }

    /// Binds a PULL socket, receives COUNT messages, and prints the seconds from the first message to the last.
    static func receive(_ arguments: [String]) async throws {
        let setup = try Setup(arguments)
        var pull = try ZMQSocket(.pull, linger: .seconds(5))
        try pull.setReceiveHighWaterMark(setup.highWaterMark)
        try pull.bind(setup.endpoint)
        FileHandle.standardOutput.write(Data("ready\n".utf8))
        var start = ContinuousClock.now
        for index in 0..<setup.count {
            let message =
                setup.blocking
                ? try pull.blockingReceive(timeout: .seconds(60))
                : try await pull.receive(timeout: .seconds(60))
            guard message.frameSize(0) == setup.size else {
                throw BenchmarkError("message \(index) has \(message.frameSize(0)) bytes, expected \(setup.size)")
            }
            if index == 0 { start = .now }
        }
        print(String(format: "%.9f", seconds(ContinuousClock.now - start)))
    }

    /// Connects a PUSH socket and sends COUNT zero-copy messages of one buffer.
    static func send(_ arguments: [String]) async throws {
        let setup = try Setup(arguments)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: setup.size, alignment: 4096)
        buffer.initializeMemory(as: UInt8.self, repeating: 7)
        defer { buffer.deallocate() }
        var context: ZMQContext? = try ZMQContext()
        do {
            var push = try ZMQSocket(.push, context: context!, linger: .seconds(5))
            try push.setSendHighWaterMark(setup.highWaterMark)
            try push.connect(setup.endpoint)
            for _ in 0..<setup.count {
                var message = ZMQMessage()
                message.append(zeroCopy: UnsafeRawBufferPointer(buffer))
                if setup.blocking {
                    try push.blockingSend(message, timeout: .seconds(60))
                } else {
                    try await push.send(message, timeout: .seconds(60))
                }
            }
        }
        // The socket is closed; terminating the context lingers until everything is delivered,
        // after which libzmq holds no reference to the buffer.
        context = nil
    }
}
