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
    /// `--arrival-wait`: whether a rank approaches a held message's arrival (wakes shortly before
    /// it and spins the rest) or is woken by its timer at the arrival itself.
    public var approachesArrivals = true

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
          --arrival-wait approach|timer
                                   how a rank waits for a message a gateway sent on before it
                                   arrives: approach (default) wakes shortly before the arrival,
                                   as early as the timer's recent wake-ups were late (20-300 µs),
                                   and spins on the clock for the rest, and waits at real-time
                                   priority where the process may (below the gateways' delivery
                                   threads); timer waits at normal priority and wakes at the
                                   arrival itself, as late as the machine wakes it, and spins
                                   for none (the cores the ranks share then do more work)
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
            case "--arrival-wait": approachesArrivals = try Self.approachesArrivals(try flags.value(flag), command: "straits-worker")
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

    /// What `--arrival-wait` says: true for approach, false for timer.
    static func approachesArrivals(_ value: String, command: String) throws -> Bool {
        switch value {
        case "approach": return true
        case "timer": return false
        default: throw RuntimeError("\(command): --arrival-wait takes approach or timer, not \(value)")
        }
    }
}
