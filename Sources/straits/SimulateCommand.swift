import ArgumentParser
import Config
import Emulation
import Foundation
import Services
import Telemetry

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Model a training run across regions at any scale, from a scenario file.",
        discussion: """
            Runs the scenario's schedule over its links with the model the emulator is measured \
            against, and prints step time, compute utilisation, synchronisation time and WAN bytes \
            (docs/simulate.md has the format and every field). --solve bandwidth finds the least \
            WAN bandwidth, every link scaled together, that reaches --target-utilisation; --sweep \
            runs a grid and writes DIR/simulate.jsonl and simulate.csv, which straits report DIR charts.
            """)

    @Argument(help: ArgumentHelp("The scenario YAML.", valueName: "file"))
    var file: String?

    @Option(
        name: .customLong("from-run"),
        help: ArgumentHelp(
            "Rebuild a local training run from its run directory and predict it, schedule by schedule, beside what it measured.",
            valueName: "run-dir"))
    var fromRun: String?

    @Option(
        name: .customLong("json"), help: ArgumentHelp("Also write the result as one JSON object.", valueName: "file"))
    var jsonPath: String?

    @Option(help: ArgumentHelp("What to solve for: bandwidth.", valueName: "what"))
    var solve: String?

    @Option(
        name: .customLong("target-utilisation"),
        help: ArgumentHelp(
            "The compute utilisation --solve reaches (above 0, below 1); several, comma-separated, solve for each.",
            valueName: "fractions"),
        transform: { text in
            let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.allSatisfy({ $0.map { $0 > 0 && $0 < 1 } ?? false }) else {
                throw ValidationError("expected fractions above 0 and below 1 like 0.9,0.95, got \"\(text)\"")
            }
            return values.map { $0! }
        })
    var targets: [Double] = [0.95]

    @Option(
        help: ArgumentHelp(
            "A sweep axis, AXIS=V1,V2,… (bandwidth, latency, schedule or replicas); repeat for a grid.",
            valueName: "axis"))
    var sweep: [String] = []

    @Option(
        name: .customLong("out"),
        help: ArgumentHelp(
            "Where a sweep's files go (simulate.jsonl, or solve.jsonl with --solve).", valueName: "dir"))
    var output = "simulate-sweep"

    func validate() throws {
        guard (file == nil) != (fromRun == nil) else {
            throw ValidationError("give a scenario file or --from-run RUN_DIR (one of them)")
        }
        if fromRun != nil && (solve != nil || !sweep.isEmpty) {
            throw ValidationError("--from-run predicts the run as it was: no --solve or --sweep")
        }
        if let solve, solve != "bandwidth" { throw ValidationError("--solve: expected bandwidth, got \"\(solve)\"") }
        if solve != nil && jsonPath != nil && (!sweep.isEmpty || targets.count > 1) {
            throw ValidationError(
                "--json writes one result: solving a sweep or several targets writes --out DIR/solve.jsonl")
        }
    }

    func run() throws {
        if let fromRun {
            let run = try FromRun(runDirectory: fromRun)
            var lines: [JSONValue]
            if run.job.kind == .train {
                let schedules = try run.predict()
                print(FromRun.table(schedules, runDirectory: fromRun))
                lines = schedules.map { .object(FromRun.json($0)) }
            } else {
                let sizes = try run.predictBench()
                print(FromRun.table(sizes, runDirectory: fromRun))
                lines = sizes.map {
                    .object([
                        ("size_bytes", .int($0.bytes)), ("measured_s", .double($0.measuredSeconds)),
                        ("predicted_s", .double($0.predictedSeconds)),
                    ])
                }
            }
            if let jsonPath {
                try (JSONValue.array(lines).encoded + "\n").write(toFile: jsonPath, atomically: true, encoding: .utf8)
            }
            return
        }
        let scenario = try Scenario.load(path: file!)
        let axes = try sweep.map { try Simulate.Axis(parsing: $0) }
        if solve != nil && (!axes.isEmpty || targets.count > 1) {
            let lines = try Simulate.solveSweep(scenario, axes: axes, targets: targets, to: output)
            print(
                "least bandwidth for \(scenario.name): \(lines.count) solutions in \(output)/solve.jsonl and solve.csv")
            print(try SimulateReport(path: output).table())
            return
        }
        if !sweep.isEmpty {
            let lines = try Simulate.sweep(scenario, axes: axes, to: output)
            print("sweep of \(scenario.name): \(lines.count) points in \(output)/simulate.jsonl and simulate.csv")
            print(try SimulateReport(path: output).table())
            return
        }
        var fields: [(String, JSONValue)]
        if solve != nil {
            let targetUtilisation = targets[0]
            let solution = try Simulate.solveBandwidth(scenario, target: targetUtilisation)
            let solved = Simulate.scaled(scenario, bandwidth: solution.factor)
            print(Simulate.table(solved, solution.result))
            print(
                String(
                    format: "  %@%@ (every link × %.4g) reaches a compute utilisation of %.4g",
                    "least WAN bandwidth".padding(toLength: 26, withPad: " ", startingAt: 0),
                    Units.formatRate(bitsPerSecond: solution.bitsPerSecond), solution.factor, targetUtilisation))
            fields = Simulate.json(solved, solution.result)
            fields.append(("bandwidth_bps", .double(solution.bitsPerSecond)))
            fields.append(("target_utilisation", .double(targetUtilisation)))
        } else {
            let result = ScenarioSimulator(scenario: scenario).run()
            print(Simulate.table(scenario, result))
            fields = Simulate.json(scenario, result)
        }
        if let jsonPath {
            try (JSONValue.object(fields).encoded + "\n").write(toFile: jsonPath, atomically: true, encoding: .utf8)
        }
    }
}
