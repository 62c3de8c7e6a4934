import Collectives
import Foundation
import NUMA
import StraitsWire
import Synchronization
import Telemetry
import Transport
import ZeroMQ

/// `straits bench allreduce`: starts the worker processes (as `mpirun -np P` would), hands out
/// the endpoint table and the measured link costs, and prints an nccl-tests-style table.
/// Every process it starts is stopped again: on success, on failure and on Ctrl-C.
public struct BenchLauncher {
    let options: BenchOptions
    let executable: String

    public init(options: BenchOptions, executable: String) {
        self.options = options
        self.executable = executable
    }

    /// Runs the benchmark; returns the process exit status.
    public func run() throws -> Int32 {
        if let keys = options.keys {
            try LinkSecurity.enable(try ClusterKeys.load(directory: keys), label: "straits bench")
        }
        var router = try ZMQSocket(.router, linger: .zero)
        try LinkSecurity.server(&router)
        try router.setRouterMandatory(true)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        let children = ChildProcesses()
        defer { children.stopAll() }
        children.installSignalHandlers()

        for worker in 0..<options.workers {
            try children.start(
                executable, ["bench-worker", "--control", endpoint, "--worker", "\(worker)"] + options.arguments)
        }
        let timeout = Duration.seconds(options.timeoutSeconds)

        // hello from every worker: its routing id and its devices' endpoints.
        var routes = [[UInt8]](repeating: [], count: options.workers)
        var table = [String](repeating: "", count: options.ranks)
        for _ in 0..<options.workers {
            let (route, message) = try receive(&router, children: children, timeout: timeout)
            guard case .hello(let hello) = message, (0..<options.workers).contains(hello.worker),
                hello.endpoints.count == options.devicesPerWorker, routes[hello.worker].isEmpty
            else {
                throw RuntimeError(.protocolViolation, "expected a hello from a new worker, got \(message)")
            }
            routes[hello.worker] = route
            for device in 0..<options.devicesPerWorker {
                table[hello.worker * options.devicesPerWorker + device] = hello.endpoints[device]
            }
        }
        for route in routes { try send(&router, route, .table(.init(endpoints: table))) }

        var params = BenchMessage.Link(
            alphaS: LinkCost.unmeasured.alphaSeconds, betaSPerByte: LinkCost.unmeasured.betaSecondsPerByte)
        var measured = false
        if options.workers > 1 {
            let (_, message) = try receive(&router, children: children, timeout: timeout)
            guard case .probed(let probed) = message, probed.isValid else {
                throw RuntimeError(.protocolViolation, "expected worker 0's probe of the link, got \(message)")
            }
            params = probed
            measured = true
        }
        for route in routes { try send(&router, route, .params(params)) }
        let link = LinkCost(alphaSeconds: params.alphaS, betaSecondsPerByte: params.betaSPerByte)
        // The calibration's all-reduces, each within the run's timeout, and its agreement.
        let calibrationRuns = BenchCalibration.allReduces(
            workers: options.workers, devicesPerWorker: options.devicesPerWorker, forced: options.algorithm,
            direct: options.sharesBuffers, maxBytes: options.maxBytes)
        // A worker that is done with a size may report it (or the next) before another worker's
        // messages arrive: each worker's messages come in order, not all workers' together.
        // Worker 0's calibration comes after its last result.
        var arrived: [Int: [[UInt8]: BenchMessage.Result]] = [:]
        var calibration: BenchMessage.Calibrated?
        func file(_ route: [UInt8], _ message: BenchMessage, from size: Int) throws {
            if case .calibrated(let calibrated) = message {
                guard calibrated.isValid, route == routes[0], calibration == nil else {
                    throw RuntimeError(.protocolViolation, "expected worker 0's calibration once, got \(message)")
                }
                calibration = calibrated
                return
            }
            guard case .result(let result) = message, result.sizeBytes >= size,
                options.sizes.contains(result.sizeBytes), arrived[result.sizeBytes]?[route] == nil,
                result.wrong >= 0, result.seconds.count == options.iterations
            else {
                throw RuntimeError(
                    .protocolViolation,
                    "expected each worker's result for size \(size) or a later one, once, got \(message)")
            }
            arrived[result.sizeBytes, default: [:]][route] = result
        }
        // A size's wait: its iterations, and the calibration's all-reduces that may come before it.
        let sizeTimeout = timeout * (options.iterations + options.warmupIterations + calibrationRuns + 1)

        let topology = try NUMATopology.discover()
        let algorithm = options.algorithm?.rawValue ?? "auto"
        emit(
            "# straits bench allreduce: \(options.ranks) ranks = \(options.workers) worker\(options.workers == 1 ? "" : "s") × \(options.devicesPerWorker) device\(options.devicesPerWorker == 1 ? "" : "s"), transport \(options.transport), algo \(algorithm), float32 sum"
        )
        emit("# \(topology)")
        let source = measured ? "measured: ping-pong and 4 MiB probe" : "default, one worker"
        emit("# link between workers (\(source)): \(link)")
        emit(
            "# model: each candidate timed on these ranks at anchor sizes, each just before the first size that needs it (slowest rank, median of \(BenchCalibration.runsDescription) runs in turns; the times after the table); between anchors, the α-β line through the nearest two (the power law where time grows faster than bytes); of the candidates within 25% of the fastest there or at either anchor, the first in order of preference (docs/benchmarks.md)"
        )
        emit(
            "# time: median over \(options.iterations) iterations of the slowest rank's time, each after a barrier; busbw = algbw × 2(P−1)/P"
        )
        emit("#")
        emit(BenchRow.header(model: false))
        let json = try options.jsonPath.map { try JSONLWriter(path: $0) }
        var rows: [BenchRow] = []
        for size in options.sizes {
            while arrived[size, default: [:]].count < options.workers {
                let (route, message) = try receive(&router, children: children, timeout: sizeTimeout)
                try file(route, message, from: size)
            }
            var perIteration = [Double](repeating: 0, count: options.iterations)
            var wrong = 0
            var plan = ""
            for result in arrived.removeValue(forKey: size)!.values {
                wrong += result.wrong
                plan = result.plan
                for (index, seconds) in result.seconds.enumerated() {
                    perIteration[index] = max(perIteration[index], seconds.isFinite ? seconds : .infinity)
                }
            }
            let row = BenchRow(sizeBytes: size, ranks: options.ranks, times: perIteration, wrong: wrong, plan: plan)
            rows.append(row)
            emit(row.line)
            let algorithm = plan.split(separator: ",").first.map(String.init) ?? ""
            json?.append(encoding: BenchRecord(row, algorithm: algorithm, transport: options.transport))
        }
        while calibration == nil {
            let (route, message) = try receive(&router, children: children, timeout: timeout)
            try file(route, message, from: options.sizes.last! + 1)
        }
        for route in routes { try send(&router, route, .bye) }
        for line in BenchRow.footer(rows) { emit(line) }
        emit("# model's calibration, each candidate's time at each anchor:")
        for line in calibration!.lines { emit("#   \(line)") }
        guard children.waitAll(timeout: .seconds(30)) else {
            throw RuntimeError(.timedOut, "workers did not exit within 30 s after the run; stopped them")
        }
        return rows.allSatisfy { $0.wrong == 0 } ? 0 : 1
    }

    /// The next message from a worker, or a worker's failure; every wait has a deadline.
    private func receive(_ router: inout ZMQSocket, children: ChildProcesses, timeout: Duration) throws -> (
        [UInt8], BenchMessage
    ) {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let failed = children.firstFailure() { throw RuntimeError(.peerFailed, failed) }
            do {
                let message = try router.blockingReceive(timeout: .milliseconds(500))
                let frames = (1..<message.count).map { message.bytes($0) }
                do {
                    return (message.bytes(0), try BenchMessage(frames: frames))
                } catch {
                    throw RuntimeError(.protocolViolation, "a worker's message", cause: error)
                }
            } catch let error as ZMQError where error.code == .timedOut {
                if ContinuousClock.now >= deadline {
                    throw RuntimeError(.timedOut, "no message from the workers within \(timeout)")
                }
            }
        }
    }

    private func send(_ router: inout ZMQSocket, _ route: [UInt8], _ message: BenchMessage) throws {
        var frames = ZMQMessage(route)
        for frame in message.encoded() { frames.append(frame) }
        try router.blockingSend(frames, timeout: .seconds(30))
    }
}

/// Writes a line to standard output at once (unbuffered), so progress shows through a pipe.
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
