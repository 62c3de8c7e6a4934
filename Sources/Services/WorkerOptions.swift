import ArgumentParser
import Foundation
import StraitsWire
import Transport

/// Flags of `straits-worker`.
public struct WorkerOptions: ParsableArguments, Sendable {
    public static let discussion = """
        One host of a Straits cluster: joins the coordinator, runs its devices as NUMA-pinned \
        threads, executes the plan's all-reduces over its data sockets and reports statistics. \
        Exits 0 when the job finished, 1 when it failed, 3 when the coordinator refused it.
        """

    @Option(help: ArgumentHelp("The coordinator's control endpoint, e.g. tcp://127.0.0.1:5555.", valueName: "endpoint"))
    public var coordinator: String

    @Option(help: ArgumentHelp("The region this host is in (as the topology names it).", valueName: "name"))
    public var region: String

    @Option(help: ArgumentHelp("This host's index in its region, from 0.", valueName: "n"))
    public var host = 0

    @Option(help: ArgumentHelp("Devices (rank threads) on this host.", valueName: "d"))
    public var devices = 1

    @OptionGroup public var bind: BindOptions

    /// How a rank waits for a held message's arrival.
    @Option(
        name: .customLong("arrival-wait"),
        help: ArgumentHelp(
            "How a rank waits for a message a gateway sent on before it arrives.",
            discussion: """
                approach wakes shortly before the arrival, as early as the timer's recent wake-ups were late \
                (20-300 µs), and spins on the clock for the rest, at real-time priority where the process may \
                (below the gateways' delivery threads); timer waits at normal priority and wakes at the arrival \
                itself, as late as the machine wakes it, and spins for none; auto does what the coordinator says \
                for each step: approach where the model of a local cluster, with the spins counted, leaves this \
                machine's cores at least half idle, timer where it does not, approach where it has no such model.
                """))
    public var arrivalWait = ArrivalWait.auto

    @OptionGroup public var watch: WatchOptions

    @OptionGroup public var security: SecurityOptions

    @Option(
        name: .customLong("protocol-version"),
        help: ArgumentHelp(
            "Speak this control protocol version (for compatibility tests).", valueName: "v"))
    var protocolVersionFlag = Int(ControlMessage.protocolVersion)

    public init() {}

    /// Parses a command line (see `ParsableArguments.parsing`).
    public init(arguments: [String]) throws {
        self = try Self.parsing(arguments)
    }

    public func validate() throws {
        try security.check(bindsOffLoopback: bind.offLoopback, what: "--bind-address \(bind.address)")
        try FlagCheck.atLeast(host, 0, "--host")
        try FlagCheck.atLeast(devices, 1, "--devices")
        guard (0...Int(UInt16.max)).contains(protocolVersionFlag) else {
            throw ValidationError("--protocol-version expects 0…65535, got \(protocolVersionFlag)")
        }
    }

    public var heartbeatSeconds: Double { watch.heartbeatSeconds }
    public var deadAfterSeconds: Double { watch.deadAfterSeconds }
    public var joinTimeoutSeconds: Double { watch.joinTimeoutSeconds }
    public var protocolVersion: UInt16 { UInt16(protocolVersionFlag) }

    /// How a rank waits for a held message's arrival.
    public enum ArrivalWait: String, Sendable, CaseIterable {
        /// Wakes shortly before it and spins the rest.
        case approach
        /// Is woken by its timer at the arrival itself.
        case timer
        /// As the coordinator says for each step (`ControlMessage.Step.approachArrivals`), and
        /// approaches where it does not say.
        case auto

        /// Whether a rank approaches arrivals in a step for which the coordinator said `advice`.
        public func approaches(advice: Bool?) -> Bool {
            switch self {
            case .approach: true
            case .timer: false
            case .auto: advice ?? true
            }
        }
    }
}
