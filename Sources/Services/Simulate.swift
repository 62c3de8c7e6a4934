import Config
import Emulation
import Foundation
import Telemetry

/// What `straits simulate` does with a scenario: one run's figures (a table for people, one JSON
/// object for programs), the least WAN bandwidth for a utilisation, and sweeps.
public enum Simulate {
    /// The result's fields as `--json` writes them (`docs/simulate.md`).
    public static func json(_ scenario: Scenario, _ result: ScenarioSimulator.Result) -> [(String, JSONValue)] {
        func level(_ level: ScenarioSimulator.Level) -> JSONValue {
            .object([("time_s", .double(level.seconds)), ("bytes", .double(level.bytes))])
        }
        return [
            ("name", .string(scenario.name)), ("sync", .string(scenario.schedule.sync.rawValue)),
            ("parameters", .int(scenario.model.parameters)), ("regions", .int(scenario.regions.count)),
            ("replicas", .int(scenario.replicas)), ("accelerators", .int(scenario.accelerators)),
            ("steps", .int(result.steps)), ("compute_s", .double(result.computeSeconds)),
            ("step_time_s", .double(result.stepSeconds)),
            ("compute_utilisation", .double(result.computeUtilisation)),
            ("exposed_comm_s_per_step", .double(result.exposedCommSecondsPerStep)),
            ("sync_time_s", .double(result.syncSeconds)), ("syncs", .int(result.syncs)),
            ("wan_bytes_per_replica_per_sync", .double(result.wanBytesPerReplicaPerSync)),
            ("wan_bytes_total", .double(result.wanBytesTotal)), ("wan_gbps_mean", .double(result.wanGbpsMean)),
            ("wan_gbps_peak", .double(result.wanGbpsPeak)), ("time_s", .double(result.seconds)),
            ("algorithm", .string(result.algorithm)),
            ("levels", .object([("fabric", level(result.fabric)), ("wan", level(result.wan))])),
        ]
    }

    /// The result for people.
    public static func table(_ scenario: Scenario, _ result: ScenarioSimulator.Result) -> String {
        func bytes(_ value: Double) -> String {
            value >= 1e12
                ? String(format: "%.2f TB", value / 1e12)
                : value >= 1e9 ? String(format: "%.2f GB", value / 1e9) : String(format: "%.2f MB", value / 1e6)
        }
        func seconds(_ value: Double) -> String {
            value >= 3600
                ? String(format: "%.2f h", value / 3600)
                : value >= 1 ? String(format: "%.3f s", value) : String(format: "%.3f ms", value * 1e3)
        }
        let schedule = scenario.schedule
        var plan = schedule.sync.rawValue
        if schedule.sync != .ddp { plan += ", every \(schedule.every) steps" }
        if schedule.fragments > 1 { plan += ", \(schedule.fragments) fragments" }
        if schedule.overlap > 0 { plan += ", overlapping \(schedule.overlap) steps" }
        if schedule.compression != .none { plan += ", \(schedule.compression.rawValue) on the WAN" }
        let rows: [(String, String)] = [
            ("compute per step", seconds(result.computeSeconds)),
            ("step time", seconds(result.stepSeconds)),
            ("compute utilisation", String(format: "%.1f %%", result.computeUtilisation * 100)),
            ("exposed comm per step", seconds(result.exposedCommSecondsPerStep)),
            (
                "sync time",
                "\(seconds(result.syncSeconds)) (\(result.syncs) syncs; between regions: \(result.algorithm))"
            ),
            ("WAN per replica per sync", bytes(result.wanBytesPerReplicaPerSync)),
            ("WAN in all", bytes(result.wanBytesTotal)),
            ("WAN mean / peak", String(format: "%.2f / %.2f Gbit/s", result.wanGbpsMean, result.wanGbpsPeak)),
            ("fabric", "\(seconds(result.fabric.seconds)), \(bytes(result.fabric.bytes))"),
            ("wan", "\(seconds(result.wan.seconds)), \(bytes(result.wan.bytes))"),
            ("time", seconds(result.seconds)),
        ]
        var lines = [
            "scenario \(scenario.name): \(Units.plain(Double(scenario.model.parameters) / 1e9))B parameters, \(scenario.replicas) replicas in \(scenario.regions.count) regions (\(scenario.accelerators) accelerators), \(plan), \(result.steps) steps"
        ]
        for (name, value) in rows {
            lines.append("  " + name.padding(toLength: 26, withPad: " ", startingAt: 0) + value)
        }
        for link in scenario.links {
            let reachable = ScenarioSimulator.reachableBitsPerSecond(link)
            guard reachable < link.link.bitsPerSecond else { continue }
            lines.append(
                "  note: \(link.link.from) → \(link.link.to) carries at most \(Units.formatRate(bitsPerSecond: reachable)) of its \(Units.formatRate(bitsPerSecond: link.link.bitsPerSecond)): \(link.streams) stream\(link.streams == 1 ? "" : "s") × a \(link.windowBytes >> 20) MiB window per \(Units.formatDuration(seconds: 2 * link.link.latencySeconds)) round trip"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// `scenario` with every WAN link's bandwidth multiplied by `factor`.
    public static func scaled(_ scenario: Scenario, bandwidth factor: Double) -> Scenario {
        scenario.changingLinks { $0.bitsPerSecond *= factor }
    }

    /// The least bandwidth that reaches a compute utilisation, every link scaled together.
    public struct Solution: Sendable {
        /// The factor every link's bandwidth was multiplied by.
        public var factor: Double
        /// The slowest link's bandwidth at that factor.
        public var bitsPerSecond: Double
        public var result: ScenarioSimulator.Result
    }

    public enum SolveError: Error, CustomStringConvertible {
        case unreachable(target: Double, best: Double, why: String)

        public var description: String {
            switch self {
            case .unreachable(let target, let best, let why):
                String(
                    format:
                        "no WAN bandwidth reaches a compute utilisation of %.3f: at a million times the links' bandwidth it is %.4f (%@)",
                    target, best, why)
            }
        }
    }

    /// Finds, by bisection on a log scale to 0.1%, the least factor on every link's bandwidth
    /// at which the compute utilisation reaches `target`, down to the slowest link a scenario
    /// may have (1 Mbit/s: where even that reaches it, as when the run never synchronises
    /// across regions, that is the answer) (utilisation never falls as bandwidth
    /// grows).
    public static func solveBandwidth(_ scenario: Scenario, target: Double) throws -> Solution {
        func utilisation(_ factor: Double) -> ScenarioSimulator.Result {
            ScenarioSimulator(scenario: scaled(scenario, bandwidth: factor)).run()
        }
        let slowest = scenario.links.map(\.link.bitsPerSecond).min() ?? 0
        var high = 1.0
        var highResult = utilisation(high)
        var low = 1.0
        if highResult.computeUtilisation >= target {
            // Down until it misses, or to the slowest link a scenario may have: then that is the answer.
            let floor = Scenario.minimumBitsPerSecond / max(slowest, Scenario.minimumBitsPerSecond)
            while true {
                low = max(high / 4, floor)
                guard low < high else {
                    return Solution(factor: high, bitsPerSecond: slowest * high, result: highResult)
                }
                let lowResult = utilisation(low)
                if lowResult.computeUtilisation < target { break }
                high = low
                highResult = lowResult
            }
        } else {
            while highResult.computeUtilisation < target {
                low = high
                high *= 4
                guard high <= 1e6 else {
                    let windowBound = scenario.links.contains {
                        ScenarioSimulator.reachableBitsPerSecond($0) < $0.link.bitsPerSecond * 1e6
                    }
                    throw SolveError.unreachable(
                        target: target, best: highResult.computeUtilisation,
                        why: windowBound
                            ? "a link's streams carry at most one window per round trip each: add streams or widen the window"
                            : "latency and the fabric alone leave less")
                }
                highResult = utilisation(high)
            }
        }
        while high / low > 1.001 {
            let middle = (high * low).squareRoot()
            let result = utilisation(middle)
            if result.computeUtilisation >= target {
                high = middle
                highResult = result
            } else {
                low = middle
            }
        }
        return Solution(factor: high, bitsPerSecond: slowest * high, result: highResult)
    }

    /// One axis of a sweep: `bandwidth=1Gbps,10Gbps`, `latency=10ms,80ms`,
    /// `schedule=ddp,diloco` or `replicas=1,4,16`.
    public struct Axis: Sendable, Equatable {
        public enum Name: String, Sendable, CaseIterable { case bandwidth, latency, schedule, replicas }
        public var name: Name
        public var values: [String]

        public init(parsing text: String) throws {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let name = Name(rawValue: parts[0]) else {
                throw SimulateError(
                    "--sweep \(text): expected AXIS=V1,V2,… with AXIS one of \(Name.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            let values = parts[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !values.isEmpty, values.allSatisfy({ !$0.isEmpty }) else {
                throw SimulateError("--sweep \(text): expected at least one value after =")
            }
            self.name = name
            self.values = values
            for value in values { _ = try apply(value, to: nil) }
        }

        /// `scenario` at `value` of this axis (nil: only checks the value).
        func apply(_ value: String, to scenario: Scenario?) throws -> Scenario? {
            switch name {
            case .bandwidth:
                guard let rate = Units.bitsPerSecond(value), rate >= Scenario.minimumBitsPerSecond, rate.isFinite
                else {
                    throw SimulateError(
                        "--sweep bandwidth: expected a rate like 10Gbps (at least 1Mbps), got \"\(value)\"")
                }
                return scenario?.changingLinks { $0.bitsPerSecond = rate }
            case .latency:
                guard let seconds = Units.seconds(value), seconds >= 0, seconds <= 10 else {
                    throw SimulateError(
                        "--sweep latency: expected a duration like 30ms (at most 10s), got \"\(value)\"")
                }
                return scenario?.changingLinks {
                    $0.latencySeconds = seconds
                    $0.jitterSeconds = min($0.jitterSeconds, seconds)
                }
            case .schedule:
                var text = value
                if text == "hierarchical-local" { text = Scenario.Sync.hier.rawValue }
                guard let sync = Scenario.Sync(rawValue: text) else {
                    throw SimulateError(
                        "--sweep schedule: expected one of \(Scenario.Sync.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(value)\""
                    )
                }
                return scenario.map { scenario in
                    var scenario = scenario
                    scenario.schedule.sync = sync
                    if sync == .ddp {
                        scenario.schedule.every = 1
                    } else if scenario.schedule.every == 1 {
                        scenario.schedule.every = 100
                    }
                    if sync != .streamingDiloco { scenario.schedule.fragments = 1 }
                    return scenario
                }
            case .replicas:
                guard let count = Units.count(value), count >= 1, count <= 10_000_000 else {
                    throw SimulateError("--sweep replicas: expected a count from 1 (per region), got \"\(value)\"")
                }
                return scenario.map { scenario in
                    var scenario = scenario
                    for index in scenario.regions.indices { scenario.regions[index].replicas = count }
                    return scenario
                }
            }
        }
    }

    /// Every point of the grid the axes span (the first axis slowest), each with its values.
    public static func grid(_ scenario: Scenario, _ axes: [Axis]) throws -> [(values: [String], scenario: Scenario)] {
        var points: [(values: [String], scenario: Scenario)] = [([], scenario)]
        for axis in axes {
            var next: [(values: [String], scenario: Scenario)] = []
            for point in points {
                for value in axis.values {
                    next.append((point.values + [value], try axis.apply(value, to: point.scenario)!))
                }
            }
            points = next
        }
        return points
    }

    /// Solves every point of the grid for each of `targets`, and writes `directory`/solve.jsonl
    /// (one object per point and target: the axes' values, `target_utilisation`, `bandwidth_bps`
    /// (null where no bandwidth reaches it, with `unreachable` saying why) and the result's
    /// fields at the solution) and solve.csv; returns the lines written.
    public static func solveSweep(_ scenario: Scenario, axes: [Axis], targets: [Double], to directory: String) throws
        -> [JSONValue]
    {
        var lines: [JSONValue] = []
        for point in try grid(scenario, axes) {
            for target in targets {
                var fields: [(String, JSONValue)] = [
                    ("latency_s", .double(point.scenario.links.map(\.link.latencySeconds).max() ?? 0)),
                    ("target_utilisation", .double(target)),
                ]
                do {
                    let solution = try solveBandwidth(point.scenario, target: target)
                    fields.append(("bandwidth_bps", .double(solution.bitsPerSecond)))
                    fields += json(scaled(point.scenario, bandwidth: solution.factor), solution.result).filter {
                        $0.0 != "levels"
                    }
                } catch let error as SolveError {
                    fields.append(("bandwidth_bps", .null))
                    fields.append(("unreachable", .string(error.description)))
                    fields += json(point.scenario, ScenarioSimulator(scenario: point.scenario).run()).filter {
                        $0.0 != "levels"
                    }
                }
                lines.append(.object(fields))
            }
        }
        try write(lines, to: directory, name: "solve")
        return lines
    }

    /// Writes `lines` as `directory`/`name`.jsonl and `name`.csv (the first line's fields as columns).
    static func write(_ lines: [JSONValue], to directory: String, name: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var csv: [String] = []
        for line in lines {
            guard case .object(let fields) = line else { continue }
            if csv.isEmpty { csv.append(fields.map(\.0).joined(separator: ",")) }
            csv.append(
                fields.map { field in
                    switch field.1 {
                    case .string(let text): "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
                    default: field.1.encoded
                    }
                }.joined(separator: ","))
        }
        try (lines.map(\.encoded).joined(separator: "\n") + "\n").write(
            toFile: directory + "/\(name).jsonl", atomically: true, encoding: .utf8)
        try (csv.joined(separator: "\n") + "\n").write(
            toFile: directory + "/\(name).csv", atomically: true, encoding: .utf8)
    }

    /// Runs every point of the grid and writes `directory`/simulate.jsonl (one object per point:
    /// the axes' values and the result's fields) and simulate.csv; returns the lines written.
    public static func sweep(_ scenario: Scenario, axes: [Axis], to directory: String) throws -> [JSONValue] {
        var lines: [JSONValue] = []
        for point in try grid(scenario, axes) {
            let result = ScenarioSimulator(scenario: point.scenario).run()
            var fields: [(String, JSONValue)] = [
                ("bandwidth_bps", .double(point.scenario.links.map(\.link.bitsPerSecond).min() ?? 0)),
                ("latency_s", .double(point.scenario.links.map(\.link.latencySeconds).max() ?? 0)),
            ]
            fields += json(point.scenario, result).filter { $0.0 != "levels" }
            lines.append(.object(fields))
        }
        try write(lines, to: directory, name: "simulate")
        return lines
    }
}

/// A bad `straits simulate` flag, in words.
public struct SimulateError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
