import ArgumentParser
import Collectives
import Config
import Transport

// Values the command lines take, as swift-argument-parser reads them: a value it cannot read is
// reported with the flag and the value (`The value 'soon' is invalid for '--cpu-latency-us'`).

extension DataTransport: ExpressibleByArgument {}
extension WorkerOptions.ArrivalWait: ExpressibleByArgument {}

/// A byte count like 64K, 16M, 1G (1024-based, as nccl-tests reads them) or 4096.
public struct ByteCount: ExpressibleByArgument, Sendable, Equatable {
    public var bytes: Int

    public init(_ bytes: Int) { self.bytes = bytes }

    public init?(argument: String) {
        guard let bytes = Units.bytes(argument), bytes >= 0 else { return nil }
        self.bytes = bytes
    }

    public var defaultValueDescription: String { AllReducePlan.formatBytes(bytes) }
}

/// `--cpu-latency-us`: a bound in microseconds (0 or more), or `off`.
public struct LatencyBound: ExpressibleByArgument, Sendable, Equatable {
    /// Nil for `off`.
    public var microseconds: Int?

    public init(microseconds: Int?) { self.microseconds = microseconds }

    public init?(argument: String) {
        if argument == "off" {
            microseconds = nil
        } else if let value = Int(argument), value >= 0 {
            microseconds = value
        } else {
            return nil
        }
    }

    public var defaultValueDescription: String { microseconds.map(String.init) ?? "off" }
    public static var allValueStrings: [String] { [] }
}

/// `--hold`: where a message waits out the rest of its link's time.
public enum HoldPlace: String, ExpressibleByArgument, CaseIterable, Sendable {
    case receiver, gateway
}

/// `--algo` of `straits bench allreduce`: an algorithm, or `auto` for the planner's choice.
public enum AlgorithmChoice: ExpressibleByArgument, Sendable, Equatable {
    case auto
    case fixed(AllReduceAlgorithm)

    public init?(argument: String) {
        if argument == "auto" {
            self = .auto
        } else if let algorithm = AllReduceAlgorithm(rawValue: argument) {
            self = .fixed(algorithm)
        } else {
            return nil
        }
    }

    public var algorithm: AllReduceAlgorithm? {
        if case .fixed(let algorithm) = self { return algorithm }
        return nil
    }

    public var defaultValueDescription: String { algorithm?.rawValue ?? "auto" }
    public static var allValueStrings: [String] { ["auto"] + AllReduceAlgorithm.allCases.map(\.rawValue) }
}

/// Checks shared by the commands' `validate()`.
enum FlagCheck {
    /// A positive, finite number no larger than `maximum`.
    static func positive(_ value: Double, _ flag: String, maximum: Double = 1e7) throws {
        guard value.isFinite, value > 0, value <= maximum else {
            throw ValidationError("\(flag) expects a positive number up to \(Int(maximum)), got \(value)")
        }
    }

    /// A whole number from `minimum` up.
    static func atLeast(_ value: Int, _ minimum: Int, _ flag: String) throws {
        guard value >= minimum else {
            throw ValidationError("\(flag) expects a whole number ≥ \(minimum), got \(value)")
        }
    }

    /// A bind address and the address peers are told: a wildcard bind needs an address to tell.
    static func advertise(bind: String, advertise: String?, _ flag: String) throws {
        if DataTransport.isWildcard(bind), advertise == nil {
            throw ValidationError(
                "\(flag) \(bind) binds every interface; say with --advertise-address which address the other hosts reach this one at"
            )
        }
        if let advertise, DataTransport.isWildcard(advertise) {
            throw ValidationError("--advertise-address must be an address the other hosts can reach, got \(advertise)")
        }
    }

    /// A job id: 1–64 letters, digits, `.`, `_` or `-`.
    static func jobID(_ id: String) throws {
        guard (1...64).contains(id.count),
            id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
        else {
            throw ValidationError("--job-id expects 1–64 letters, digits, '.', '_' or '-', got \(id)")
        }
    }

    /// A comma-separated list, each item read by `parse`.
    static func list<T>(_ text: String, what: String, _ parse: (String) -> T?) throws -> [T] {
        var values: [T] = []
        for item in text.split(separator: ",").map({ String($0).trimmingCharacters(in: .whitespaces) }) {
            guard let value = parse(item) else { throw ValidationError("expected \(what), got \"\(item)\"") }
            values.append(value)
        }
        guard !values.isEmpty else { throw ValidationError("expected at least one of \(what)") }
        return values
    }
}

extension ParsableArguments {
    /// Parses `arguments` as the command line would; a mistake is a `RuntimeError` that says
    /// what swift-argument-parser says (the flag, the value, and the flag meant where it can tell).
    public static func parsing(_ arguments: [String]) throws -> Self {
        do {
            return try parse(arguments)
        } catch {
            throw RuntimeError(.invalidArgument, message(for: error))
        }
    }
}
