// straits: the command-line front door. `straits bench allreduce --help` lists the flags.
import Foundation
import Runtime
import Training
import Telemetry
import Config

let arguments = Array(CommandLine.arguments.dropFirst())
let usage = """
    USAGE: straits <command> [options]

    COMMANDS:
      bench allreduce    all-reduce benchmark over local ranks, nccl-tests style (--help for flags)
      sweep              WAN bandwidth × latency × algorithm through local clusters, measured
                         beside the model; with --job, a training job's schedules at every
                         point (--help for flags)
      report DIR         per-region table of a cluster run, or a sweep's measured-vs-model table;
                         writes DIR/report.html with charts
      topology FILE      checks a topology file and describes it; --hosts lists "region host devices"
                         lines, one per worker process, and --regions the region names, for scripts
      job FILE           checks a job file and describes it

    """

func fail(_ message: String, status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("straits: \(message)\n".utf8))
    exit(status)
}

do {
    switch (arguments.first, arguments.dropFirst().first) {
    case ("bench", "allreduce"):
        let rest = Array(arguments.dropFirst(2))
        if rest.contains("-h") || rest.contains("--help") {
            print(BenchOptions.help)
            exit(0)
        }
        let options = try BenchOptions(arguments: rest)
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        let resolved = FileManager.default.isExecutableFile(atPath: executable)
            ? executable : (Bundle.main.executablePath ?? executable)
        exit(try BenchLauncher(options: options, executable: resolved).run())
    case ("bench-worker", _):
        // Internal: one worker process of `straits bench allreduce`.
        var rest = Array(arguments.dropFirst())
        func take(_ flag: String) throws -> String {
            guard let index = rest.firstIndex(of: flag), index + 1 < rest.count else { throw RuntimeError("bench-worker: \(flag) is required") }
            let value = rest[index + 1]
            rest.removeSubrange(index...(index + 1))
            return value
        }
        let control = try take("--control")
        guard let worker = Int(try take("--worker")) else { throw RuntimeError("bench-worker: --worker expects a number") }
        let options = try BenchOptions(arguments: rest)
        try BenchWorker(options: options, worker: worker, controlEndpoint: control).run()
    case ("report", let directory?):
        guard !directory.hasPrefix("-") else {
            print("USAGE: straits report RUN_DIR\n\nPrints the run's per-region table and writes RUN_DIR/report.html.")
            exit(0)
        }
        if SweepReport.isSweep(directory) {
            let report = try SweepReport(path: directory)
            print(report.table())
            print("report: \(try report.write())")
        } else {
            let report = try RunReport(path: directory)
            print(report.table())
            print("report: \(try report.write())")
        }
    case ("sweep", _):
        let rest = Array(arguments.dropFirst())
        if rest.contains("-h") || rest.contains("--help") {
            print(SweepOptions.help)
            exit(0)
        }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        exit(try Sweep(options: try SweepOptions(arguments: rest), binaries: executable.deletingLastPathComponent().path).run())
    case ("topology", let file?):
        let topology = try ClusterTopology.load(path: file)
        if arguments.dropFirst(2).contains("--regions") {
            for region in topology.regions { print(region.name) }
        } else if arguments.dropFirst(2).contains("--hosts") {
            for region in topology.regions {
                for host in 0..<region.hosts { print("\(region.name) \(host) \(region.devicesPerHost)") }
            }
        } else {
            print("topology \(topology.name): \(topology.regions.count) regions, \(topology.hostCount) hosts, \(topology.deviceCount) devices")
            for region in topology.regions { print("  region \(region.name): \(region.hosts) hosts × \(region.devicesPerHost) devices") }
            for link in topology.links {
                print("  link \(link.from) → \(link.to): \(Units.formatRate(bitsPerSecond: link.bitsPerSecond)), \(Units.formatDuration(seconds: link.latencySeconds)) ± \(Units.formatDuration(seconds: link.jitterSeconds))"
                      + (link.framing == .tcp ? " (line rate: TCP/IP headers counted)" : " (payload only)"))
            }
            print("  lan: " + (topology.lanBitsPerSecond.map { Units.formatRate(bitsPerSecond: $0) } ?? "unlimited"))
        }
    case ("job", let file?):
        let job = try JobSpec.load(path: file)
        switch job.kind {
        case .sync:
            print("job \(job.name): sync, \(job.steps) steps of \(Units.formatDuration(seconds: job.computeSeconds)) emulated compute and a \(job.gradientBytes)-byte all-reduce, algo \(job.algorithm)")
        case .bench:
            print("job \(job.name): all-reduce benchmark, sizes \(job.benchSizes.map(String.init).joined(separator: " ")), \(job.iterations) iterations after \(job.warmupIterations) warm-up, algo \(job.algorithm)")
        case .train:
            let spec = job.training!
            let model = MLP(layers: spec.model.layers)
            print("job \(job.name): train an MLP \(model.layers.map(String.init).joined(separator: "→")) (\(model.parameterCount) parameters), batch \(spec.data.batch) per device, \(spec.optimizer.name.rawValue) lr \(spec.optimizer.learningRate)")
            print("  compute: " + Coordinator.computeDescription(spec, model: model))
            for schedule in spec.schedules {
                print("  schedule \(schedule.name): \(schedule.sync.rawValue), \(schedule.steps) steps" + (schedule.sync == .ddp ? "" : ", every \(schedule.every)")
                      + ", WAN \(schedule.compression.rawValue)")
            }
        }
    case ("report", nil):
        fail("report needs a run directory: straits report RUN_DIR")
    case ("-h", _), ("--help", _), (nil, _):
        print(usage)
    default:
        fail("unknown command \(arguments.joined(separator: " "))\n\(usage)")
    }
} catch {
    fail("\(error)", status: 1)
}
