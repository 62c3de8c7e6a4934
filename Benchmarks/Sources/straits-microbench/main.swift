// straits-microbench: Straits' hot paths measured beside C references built in the same run.
//
//   straits-microbench kernel --reference libsum.so [--sizes 256K,4M,64M] [--trials 15]
//   straits-microbench zmq --reference zmq_throughput [--sizes 1M,16M] [--transports tcp,ipc] [--rounds 5]
//   straits-microbench zmq-recv|zmq-send ENDPOINT SIZE COUNT HWM     (one side of a throughput run)
//
// Every figure is a median over interleaved trials (Swift, C, Swift, C, ...), so that the noise of
// a shared machine falls on both alike; the ratio Swift / C is what to read.

import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else {
    FileHandle.standardError.write(Data("usage: straits-microbench kernel|zmq|zmq-recv|zmq-send ...\n".utf8))
    exit(2)
}

do {
    switch command {
    case "kernel":
        try KernelBenchmark(arguments: Options(Array(arguments.dropFirst()))).run()
    case "zmq":
        try ZMQThroughputBenchmark(arguments: Options(Array(arguments.dropFirst()))).run()
    case "zmq-recv":
        let rest = Array(arguments.dropFirst())
        try await Task.detached { try await ZMQThroughputSide.receive(rest) }.value
    case "zmq-send":
        try await ZMQThroughputSide.send(Array(arguments.dropFirst()))
    default:
        throw BenchmarkError("unknown command \(command); expected kernel, zmq, zmq-recv or zmq-send")
    }
} catch {
    FileHandle.standardError.write(Data("straits-microbench: \(error)\n".utf8))
    exit(1)
}
