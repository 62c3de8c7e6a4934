import Foundation
import StraitsWire

/// Flags of `straits-worker`.
public struct WorkerOptions: Sendable {
    public var coordinator = ""
    public var region = ""
    public var host = 0
    public var devices = 1
    /// The address the data sockets bind on (this host's address as the other workers see it).
    public var bindAddress = "127.0.0.1"
    /// TCP, or Unix-domain sockets where the whole cluster runs on one machine.
    public var transport = DataTransport.tcp
    public var heartbeatSeconds = 0.5
    public var deadAfterSeconds = 5.0
    public var joinTimeoutSeconds = 60.0
    public var protocolVersion = ControlMessage.protocolVersion
    /// `--arrival-wait`: how a rank waits for a held message's arrival.
    public var arrivalWait = ArrivalWait.auto

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

        static func parse(_ value: String, command: String) throws -> ArrivalWait {
            guard let wait = ArrivalWait(rawValue: value) else {
                throw RuntimeError("\(command): --arrival-wait takes auto, approach or timer, not \(value)")
            }
            return wait
        }
    }

    public static let help = """
        USAGE: straits-worker --coordinator ENDPOINT --region NAME --host N [options]

        One host of a Straits cluster: joins the coordinator, runs its devices as NUMA-pinned
        threads, executes the plan's all-reduces over its data sockets and reports statistics.

        OPTIONS:
          --coordinator ENDPOINT   the coordinator's control endpoint, e.g. tcp://127.0.0.1:5555
          --region NAME            the region this host is in (as the topology names it)
          --host N                 this host's index in its region, from 0
          --devices D              devices (rank threads) on this host (default 1)
          --bind-address ADDR      address the data sockets bind on (default 127.0.0.1)
          --transport tcp|ipc      how the data sockets are reached: tcp on --bind-address
                                   (default), or ipc: Unix-domain sockets in the temporary
                                   directory, for a cluster that runs on one machine
          --arrival-wait auto|approach|timer
                                   how a rank waits for a message a gateway sent on before it
                                   arrives: approach wakes shortly before the arrival, as early
                                   as the timer's recent wake-ups were late (20-300 µs), and
                                   spins on the clock for the rest, and waits at real-time
                                   priority where the process may (below the gateways' delivery
                                   threads); timer waits at normal priority and wakes at the
                                   arrival itself, as late as the machine wakes it, and spins
                                   for none (the cores the ranks share then do more work); auto
                                   (default) does what the coordinator says for each step:
                                   approach where the model of a local cluster, with the spins
                                   counted, leaves this machine's cores at least half idle, timer
                                   where it does not, approach where it has no such model
          --heartbeat-ms MS        heartbeat interval (default 500)
          --dead-after-s S         the coordinator counts as gone after S seconds of silence (default 5)
          --join-timeout-s S       give up if not admitted within S seconds (default 60)
          --protocol-version V     speak control protocol version V (for compatibility tests;
                                   default \(ControlMessage.protocolVersion))
          -h, --help               show this help

        """

    public init(arguments: [String]) throws {
        var flags = FlagReader(command: "straits-worker", arguments: arguments)
        while let flag = flags.next() {
            switch flag {
            case "--coordinator": coordinator = try flags.value(flag)
            case "--region": region = try flags.value(flag)
            case "--host": host = try flags.integer(flag, minimum: 0)
            case "--devices": devices = try flags.integer(flag, minimum: 1)
            case "--bind-address": bindAddress = try flags.value(flag)
            case "--transport": transport = try DataTransport.parse(try flags.value(flag), command: "straits-worker")
            case "--arrival-wait": arrivalWait = try ArrivalWait.parse(try flags.value(flag), command: "straits-worker")
            case "--heartbeat-ms": heartbeatSeconds = try flags.positive(flag) / 1000
            case "--dead-after-s": deadAfterSeconds = try flags.positive(flag)
            case "--join-timeout-s": joinTimeoutSeconds = try flags.positive(flag)
            case "--protocol-version": protocolVersion = UInt16(clamping: try flags.integer(flag, minimum: 0))
            default: throw flags.unknown(flag)
            }
        }
        guard !coordinator.isEmpty else { throw RuntimeError("straits-worker: --coordinator is required") }
        guard !region.isEmpty else { throw RuntimeError("straits-worker: --region is required") }
    }
}
