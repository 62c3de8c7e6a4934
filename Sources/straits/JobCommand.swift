import ArgumentParser
import Config
import Services
import Training

struct JobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "job", abstract: "Check a job file and describe it.")

    @Argument(help: ArgumentHelp("The job YAML.", valueName: "file")) var file: String

    func run() throws {
        let job = try JobSpec.load(path: file)
        switch job.kind {
        case .sync:
            print(
                "job \(job.name): sync, \(job.steps) steps of \(Units.formatDuration(seconds: job.computeSeconds)) emulated compute and a \(job.gradientBytes)-byte all-reduce, algo \(job.algorithm.rawValue)"
            )
        case .bench:
            print(
                "job \(job.name): all-reduce benchmark, sizes \(job.benchSizes.map(String.init).joined(separator: " ")), \(job.iterations) iterations after \(job.warmupIterations) warm-up, algo \(job.algorithm.rawValue)"
            )
        case .train:
            let spec = job.training!
            let model = MLP(layers: spec.model.layers)
            print(
                "job \(job.name): train an MLP \(model.layers.map(String.init).joined(separator: "→")) (\(model.parameterCount) parameters), batch \(spec.data.batch) per device, \(spec.optimizer.name.rawValue) lr \(spec.optimizer.learningRate)"
            )
            print("  compute: " + Coordinator.computeDescription(spec, model: model))
            for schedule in spec.schedules {
                print(
                    "  schedule \(schedule.name): \(schedule.sync.rawValue), \(schedule.steps) steps"
                        + (schedule.sync == .ddp ? "" : ", every \(schedule.every)")
                        + ", WAN \(schedule.compression.rawValue)")
            }
        }
        for fault in job.faults { print("  fault: " + Self.describe(fault)) }
        for kill in job.kills {
            let when =
                kill.atStep.map { "at step \($0)" }
                ?? "\(Units.formatDuration(seconds: kill.atSeconds ?? 0)) after the first step"
            print("  fault: kill \(kill.target) \(when)")
        }
        if let quorum = job.quorum {
            print(
                "  quorum: goes on with at least \(quorum.hosts) host\(quorum.hosts == 1 ? "" : "s") in \(quorum.regions) region\(quorum.regions == 1 ? "" : "s"); a lost worker is left out and may join again"
            )
        }
    }

    /// A link fault in words: `us-east ↔ eu-west down from 2 s after the first step, for 3 s`.
    static func describe(_ fault: LinkFault) -> String {
        let what =
            switch fault.kind {
            case .down: "down"
            case .degraded(let rate, let latency):
                "degraded to "
                    + [
                        rate.map { Units.formatRate(bitsPerSecond: $0) },
                        latency.map { Units.formatDuration(seconds: $0) },
                    ].compactMap { $0 }.joined(separator: ", ")
            case .flap(let period): "flapping every \(Units.formatDuration(seconds: period))"
            }
        let when =
            fault.atStep.map { "from step \($0)" }
            ?? "from \(Units.formatDuration(seconds: fault.atSeconds ?? 0)) after the first step"
        return
            "\(fault.from) \(fault.directed ? "→" : "↔") \(fault.to) \(what) \(when), for \(Units.formatDuration(seconds: fault.forSeconds))"
    }
}
