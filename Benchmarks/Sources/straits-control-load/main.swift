// straits-control-load: drives a real straits-coordinator with synthetic members over real
// sockets (one DEALER each, all in this process) at several member counts, and measures what the
// control plane costs as the cluster grows: joins, heartbeats (every member's, every 500 ms) and
// step answers.
//
//   straits-control-load --coordinator PATH [--members 10,100,1000] [--steps 40] [--json FILE] [--logs DIR]
//
// Each count runs a sync job of --steps steps on a two-region topology of that many one-device
// hosts, with --no-gateways (the members carry no data). The members answer every probe and step
// at once, so the time between steps is the coordinator's own work plus the sockets'. Printed per
// count: time to admit everyone (and the coordinator's CPU time for it: on a small machine the
// members' own process sets the pace), to calibrate and plan, the median interval between steps and its share per
// member, the coordinator's CPU per step and per member-step (from /proc/PID/stat), and its peak
// memory (VmHWM from /proc/PID/status).
import Foundation
import StraitsWire
import ZeroMQ

struct Options {
    var coordinator = ""
    var members = [10, 100, 1000]
    var steps = 40
    var json: String?
    var logs: String?

    init(_ arguments: [String]) {
        var index = 0
        func value() -> String {
            index += 1
            guard index < arguments.count else { fail("\(arguments[index - 1]) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--coordinator": coordinator = value()
            case "--members":
                members = value().split(separator: ",").map {
                    guard let n = Int($0), n >= 2, n <= 20_000 else { fail("--members: 2…20000 each, got \($0)") }
                    return n
                }
            case "--steps":
                guard let n = Int(value()), n >= 3, n <= 100_000 else { fail("--steps: 3…100000") }
                steps = n
            case "--json": json = value()
            case "--logs": logs = value()
            case "-h", "--help":
                print(
                    "straits-control-load --coordinator PATH [--members 10,100,1000] [--steps 40] [--json FILE] [--logs DIR]"
                )
                exit(0)
            default: fail("unknown argument \(arguments[index])")
            }
            index += 1
        }
        guard !coordinator.isEmpty else { fail("--coordinator PATH (the straits-coordinator executable) is required") }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("straits-control-load: \(message)\n".utf8))
    exit(2)
}

func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// A process's CPU time (user + system), seconds, and peak resident memory, bytes.
func usage(of pid: Int32) -> (cpu: Double, peak: Int)? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // After the command: state is field 3, utime 14, stime 15 (1-based over the whole line).
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    let peak =
        status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
        .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
    return ((user + system) / ticks, peak * 1024)
}

final class Member {
    var socket: ZMQSocket
    let region: String
    let host: Int
    var rank = -1
    var stopped = false
    var heartbeat = 0
    init(socket: consuming ZMQSocket, region: String, host: Int) {
        self.socket = socket
        self.region = region
        self.host = host
    }

    func send(_ message: ControlMessage) throws {
        var frames = ZMQMessage()
        for frame in message.encoded() { frames.append(frame) }
        try socket.blockingSend(frames, timeout: .seconds(10))
    }
}

struct LoadError: Error, CustomStringConvertible {
    let description: String
}

struct Result: Codable {
    var members: Int
    var steps: Int
    var admitS: Double
    var coordinatorCpuAdmitMs: Double
    var calibrateAndPlanS: Double
    var coordinatorCpuPlanMs: Double
    var stepIntervalMedianMs: Double
    var stepIntervalPerMemberUs: Double
    var coordinatorCpuPerStepMs: Double
    var coordinatorCpuPerMemberStepUs: Double
    var coordinatorPeakMB: Double
    var heartbeatsPerS: Double
    var status: String
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func run(members count: Int, options: Options) throws -> Result {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "straits-control-load-\(getpid())-\(count)")
    try? FileManager.default.removeItem(at: directory)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer {
        if let logs = options.logs {
            try? FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
            let target = URL(fileURLWithPath: logs).appendingPathComponent("coordinator-\(count).log")
            try? FileManager.default.removeItem(at: target)
            try? FileManager.default.copyItem(at: directory.appendingPathComponent("coordinator.log"), to: target)
        }
        try? FileManager.default.removeItem(at: directory)
    }
    let perRegion = [count / 2, count - count / 2]
    let regions = ["east", "west"]
    let topology = directory.appendingPathComponent("topology.yaml").path
    try """
    name: load-\(count)
    regions:
      - { name: east, hosts: \(perRegion[0]), devices_per_host: 1 }
      - { name: west, hosts: \(perRegion[1]), devices_per_host: 1 }
    links:
      - { between: [east, west], bandwidth: 10Gbps, latency: 1ms }
    """.write(toFile: topology, atomically: true, encoding: .utf8)
    let job = directory.appendingPathComponent("job.yaml").path
    try """
    name: control-load
    kind: sync
    steps: \(options.steps)
    gradient: 4KiB
    compute: 0ms
    timeout: 60s
    """.write(toFile: job, atomically: true, encoding: .utf8)
    let runDirectory = directory.appendingPathComponent("run").path

    let coordinator = Process()
    coordinator.executableURL = URL(fileURLWithPath: options.coordinator)
    coordinator.arguments = [
        "--topology", topology, "--job", job, "--run-dir", runDirectory, "--no-gateways", "--join-timeout-s", "300",
        "--dead-after-s", "30",
    ]
    let log = directory.appendingPathComponent("coordinator.log")
    FileManager.default.createFile(atPath: log.path, contents: nil)
    coordinator.standardOutput = try FileHandle(forWritingTo: log)
    coordinator.standardError = coordinator.standardOutput
    try coordinator.run()
    defer {
        if coordinator.isRunning {
            kill(coordinator.processIdentifier, SIGKILL)
            coordinator.waitUntilExit()
        }
    }
    var endpoint = ""
    let startDeadline = now() + 30
    while now() < startDeadline {
        if let text = try? String(contentsOfFile: runDirectory + "/coordinator.endpoint", encoding: .utf8),
            text.hasSuffix("\n")
        {
            endpoint = text.trimmingCharacters(in: .whitespacesAndNewlines)
            break
        }
        guard coordinator.isRunning else { break }
        usleep(20_000)
    }
    guard !endpoint.isEmpty else {
        throw LoadError(
            description: "the coordinator did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    let poll = ZMQPollSet()
    var members: [Member] = []
    let joinStart = now()
    let cpuStart = usage(of: coordinator.processIdentifier)?.cpu ?? 0
    for (regionIndex, region) in regions.enumerated() {
        for host in 0..<perRegion[regionIndex] {
            var socket = try ZMQSocket(.dealer, linger: .zero)
            try socket.setReceiveHighWaterMark(10_000)
            try socket.connect(endpoint)
            let member = Member(socket: socket, region: region, host: host)
            _ = poll.add(member.socket)
            members.append(member)
            try member.send(
                .join(
                    .init(
                        region: region, host: host, devices: 1, numaNodes: 1,
                        endpoints: ["tcp://127.0.0.1:\(20_000 + members.count)"], pid: Int(getpid()))))
        }
    }

    var planned = 0
    var planDone = 0.0
    var admitted = 0.0
    var cpuAdmitted = 0.0
    var cpuPlanned = 0.0
    var firstStepAt: [Int: Double] = [:]
    var cpuAtStep: [Int: Double] = [:]
    var stopped = 0
    var status = "ok"
    var nextHeartbeat = now() + 0.5
    let deadline = now() + 600
    while stopped < count {
        if now() > deadline {
            status = "timed out"
            break
        }
        if now() >= nextHeartbeat {
            nextHeartbeat += 0.5
            for member in members where !member.stopped {
                member.heartbeat += 1
                try member.send(
                    .heartbeat(
                        .init(
                            seq: member.heartbeat, traffic: .init(), computeS: 0, commS: 0,
                            stepsDone: max(0, firstStepAt.count - 1))))
            }
        }
        for index in try poll.readable(timeout: .milliseconds(20)) {
            let member = members[index]
            while let message = try? member.socket.tryReceive() {
                var frames: [[UInt8]] = []
                for frame in 0..<message.count { frames.append(message.bytes(frame)) }
                // Heartbeats need no answer and plans no reading (a member's rank is its place in
                // region-then-host order, one device each): their bodies are not decoded, so that
                // this process's own cost stays off the coordinator's figures as far as it can.
                let type = frames.first.flatMap { try? ControlMessage.decodeEnvelope($0) }?.type
                if type == ControlMessage.Kind.heartbeat.rawValue { continue }
                if type == ControlMessage.Kind.plan.rawValue {
                    member.rank = index
                    planned += 1
                    if planned == count {
                        admitted = now()
                        cpuAdmitted = usage(of: coordinator.processIdentifier)?.cpu ?? 0
                    }
                    if planned == count * 2 {
                        planDone = now()
                        cpuPlanned = usage(of: coordinator.processIdentifier)?.cpu ?? 0
                    }
                    continue
                }
                switch try ControlMessage(frames: frames) {
                case .probe(let probe):
                    if probe.lead {
                        try member.send(
                            .probed(
                                .init(
                                    peerWorker: probe.peerWorker,
                                    link: .init(alphaS: 50e-6, betaSPerByte: 1e-9, cpuPerMessageS: 10e-6))))
                    }
                case .step(let step):
                    if firstStepAt[step.step] == nil {
                        firstStepAt[step.step] = now()
                        cpuAtStep[step.step] = usage(of: coordinator.processIdentifier)?.cpu
                    }
                    let device = ControlMessage.DeviceStep(
                        rank: member.rank, computeS: 0, commS: 0.001, hostS: 0, regionS: 0.001, wanS: 0, syncS: 0,
                        checkS: 0, wrong: 0)
                    try member.send(
                        .stepDone(.init(step: step.step, plan: "flat ring", devices: [device], traffic: .init())))
                case .stop(let stop):
                    if !member.stopped {
                        member.stopped = true
                        stopped += 1
                        if !stop.ok { status = stop.reason }
                    }
                case .refuse(let refuse):
                    throw LoadError(description: "refused: \(refuse.reason)")
                default:
                    break
                }
            }
        }
    }
    let final = usage(of: coordinator.processIdentifier)
    let last = firstStepAt.keys.max() ?? 0
    let lastCPU = final?.cpu ?? 0
    let exitDeadline = now() + 30
    while coordinator.isRunning && now() < exitDeadline { usleep(20_000) }

    // Intervals between consecutive steps' first commands (the first step waits for planning).
    let ordered = firstStepAt.keys.sorted()
    let intervals = zip(ordered.dropFirst(), ordered).map { firstStepAt[$0.0]! - firstStepAt[$0.1]! }
    let measuredSteps = max(1, last - (ordered.first ?? 0))
    let cpu = (lastCPU - (cpuAtStep[ordered.first ?? 0] ?? lastCPU)) / Double(measuredSteps)
    let interval = median(intervals)
    return Result(
        members: count, steps: firstStepAt.count, admitS: admitted - joinStart,
        coordinatorCpuAdmitMs: (cpuAdmitted - cpuStart) * 1e3, calibrateAndPlanS: planDone - admitted,
        coordinatorCpuPlanMs: (cpuPlanned - cpuAdmitted) * 1e3,
        stepIntervalMedianMs: interval * 1e3, stepIntervalPerMemberUs: interval / Double(count) * 1e6,
        coordinatorCpuPerStepMs: cpu * 1e3, coordinatorCpuPerMemberStepUs: cpu / Double(count) * 1e6,
        coordinatorPeakMB: Double(final?.peak ?? 0) / 1e6, heartbeatsPerS: Double(count) / 0.5, status: status)
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
var results: [Result] = []
print(
    "# members  steps  admit(s)  its CPU(ms)  calibrate+plan(s)  its CPU(ms)  step interval(ms)  per member(µs)  coordinator CPU/step(ms)  per member-step(µs)  peak MB  heartbeats/s  status"
)
for count in options.members {
    let result = try run(members: count, options: options)
    results.append(result)
    print(
        String(
            format: "  %7d  %5d  %8.2f  %11.1f  %17.2f  %11.1f  %17.2f  %14.1f  %24.2f  %19.1f  %7.1f  %12.0f  %@",
            result.members, result.steps,
            result.admitS, result.coordinatorCpuAdmitMs, result.calibrateAndPlanS, result.coordinatorCpuPlanMs,
            result.stepIntervalMedianMs, result.stepIntervalPerMemberUs,
            result.coordinatorCpuPerStepMs, result.coordinatorCpuPerMemberStepUs, result.coordinatorPeakMB,
            result.heartbeatsPerS, result.status))
}
if results.count >= 2, let first = results.first, let last = results.last {
    let growth = Double(last.members) / Double(first.members)
    print(
        String(
            format: "# %d → %d members (×%.0f): step interval ×%.1f, coordinator CPU per step ×%.1f, peak memory ×%.2f",
            first.members, last.members, growth, last.stepIntervalMedianMs / first.stepIntervalMedianMs,
            last.coordinatorCpuPerStepMs / first.coordinatorCpuPerStepMs,
            last.coordinatorPeakMB / first.coordinatorPeakMB))
}
if let json = options.json {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.sortedKeys]
    let lines = try results.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
    try (lines.joined(separator: "\n") + "\n").write(toFile: json, atomically: true, encoding: .utf8)
}
