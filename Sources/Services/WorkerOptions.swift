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

    /// The address the data sockets bind on (this host's address as the other workers see it).
    @Option(
        name: .customLong("bind-address"), help: ArgumentHelp("Address the data sockets bind on.", valueName: "addr"))
    public var bindAddress = "127.0.0.1"

    /// The address the other hosts reach this one at, where it differs from the bind address.
    @Option(
        name: .customLong("advertise-address"),
        help: ArgumentHelp(
            "Address the other hosts reach the data sockets at (default: --bind-address).",
            discussion:
                "Needed when --bind-address is a wildcard (0.0.0.0) or not reachable as it is, e.g. behind NAT.",
            valueName: "addr"))
    public var advertiseAddress: String?

    /// TCP, or Unix-domain sockets where the whole cluster runs on one machine.
    @Option(
        help: ArgumentHelp(
            "How the data sockets are reached.",
            discussion:
                "tcp on --bind-address, or ipc: Unix-domain sockets in the temporary directory, for a cluster that runs on one machine."
        ))
    public var transport = DataTransport.tcp

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
        try FlagCheck.advertise(bind: bindAddress, advertise: advertiseAddress, "--bind-address")
        try security.check(bindsOffLoopback: bindsOffLoopback, what: "--bind-address \(bindAddress)")
        try FlagCheck.atLeast(host, 0, "--host")
        try FlagCheck.atLeast(devices, 1, "--devices")
        guard (0...Int(UInt16.max)).contains(protocolVersionFlag) else {
            throw ValidationError("--protocol-version expects 0…65535, got \(protocolVersionFlag)")
        }
    }

    /// Whether the data sockets bind where other hosts can reach them.
    public var bindsOffLoopback: Bool { transport == .tcp && SecurityOptions.offLoopback(address: bindAddress) }

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
