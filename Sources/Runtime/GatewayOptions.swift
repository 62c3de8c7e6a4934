import StraitsWire

/// Flags of `straits-gateway`.
public struct GatewayOptions: Sendable {
    public var coordinator = ""
    public var region = ""
    public var topologyPath = ""
    public var bindAddress = "127.0.0.1"
    /// TCP, or Unix-domain sockets where the whole cluster runs on one machine.
    public var transport = DataTransport.tcp
    public var heartbeatSeconds = 0.5
    public var deadAfterSeconds = 5.0
    public var joinTimeoutSeconds = 60.0
    /// Chunks the link model cuts messages into, so that flows share a link fairly.
    public var chunkBytes = 64 << 10
    /// Bytes a link may hold queued before the gateway stops reading that link's ingress.
    public var queueBytes = 64 << 20
    /// Delivery threads racing to each delivery, each pinned to a CPU of its own where more than
    /// one (at most one per CPU).
    public var deliveryThreads = 1
    /// The CPU wake-up latency the gateway asks the kernel for while traffic is in flight
    /// (`CPULatencyRequest`); nil: it asks nothing.
    public var cpuLatencyMicroseconds: Int? = 0
    /// Where a message waits out the rest of its link's time: at its receiver (the gateway sends
    /// it on as soon as its arrival time is settled, with that time), or at the gateway.
    public var receiverHolds = true

    public static let help = """
        USAGE: straits-gateway --coordinator ENDPOINT --region NAME --topology FILE [options]

        The gateway of one region: carries all of the region's traffic to other regions. Each
        directed link of the topology is a queue served at the link's bandwidth (messages cut
        into chunks, the next taken from the flow served fewest bytes) and a delay line of its
        latency ± jitter;
        queues are bounded and push back on senders. Counters go to the coordinator, which
        writes them to links.jsonl.

        OPTIONS:
          --coordinator ENDPOINT   the coordinator's control endpoint
          --region NAME            the region this gateway serves
          --topology FILE          the topology (links: bandwidth, latency, jitter)
          --bind-address ADDR      address the ingress sockets bind on (default 127.0.0.1)
          --transport tcp|ipc      how the ingress sockets are reached: tcp on --bind-address
                                   (default), or ipc: Unix-domain sockets in the temporary
                                   directory, for a cluster that runs on one machine
          --chunk-bytes N          link chunk size, bytes (default 65536)
          --queue-bytes N          queue bound per link, bytes (default 67108864)
          --delivery-threads N     threads that race to send each delivery on time, each
                                   pinned to a CPU of its own when more than one (default 1;
                                   at most one per CPU): on a virtual machine, 2 are late far
                                   less often, and take more of the cores from the ranks
          --cpu-latency-us N|off   while a link has traffic in flight, ask the kernel to keep
                                   every CPU's wake-up latency within N µs (/dev/cpu_dma_latency;
                                   default 0: idle CPUs poll instead of halting, which on a
                                   virtual machine makes a delivery's wake-up hundreds of
                                   microseconds late); off: ask nothing
          --hold receiver|gateway  where a message waits until its link says it arrives:
                                   receiver (default): the gateway sends it on as soon as
                                   that time is settled, with an arrival frame, and the rank
                                   takes it at that time (so the trip from the gateway to the
                                   rank is off the message's path); gateway: it sends it on
                                   at that time, less the trip. Messages to ranks on other
                                   machines (not ipc or loopback) always wait at the gateway
          --heartbeat-ms MS        heartbeat interval (default 500)
          --dead-after-s S         the coordinator counts as gone after S seconds of silence (default 5)
          --join-timeout-s S       give up if not admitted within S seconds (default 60)
          -h, --help               show this help

        """

    /// What `--hold` says: true for receiver, false for gateway.
    static func receiverHolds(_ value: String, command: String) throws -> Bool {
        switch value {
        case "receiver": return true
        case "gateway": return false
        default: throw RuntimeError("\(command): --hold takes receiver or gateway, not \(value)")
        }
    }

    public init(arguments: [String]) throws {
        var flags = FlagReader(command: "straits-gateway", arguments: arguments)
        while let flag = flags.next() {
            switch flag {
            case "--coordinator": coordinator = try flags.value(flag)
            case "--region": region = try flags.value(flag)
            case "--topology": topologyPath = try flags.value(flag)
            case "--bind-address": bindAddress = try flags.value(flag)
            case "--transport": transport = try DataTransport.parse(try flags.value(flag), command: "straits-gateway")
            case "--chunk-bytes": chunkBytes = try flags.integer(flag, minimum: 1)
            case "--queue-bytes": queueBytes = try flags.integer(flag, minimum: 1)
            case "--delivery-threads": deliveryThreads = try flags.integer(flag, minimum: 1)
            case "--cpu-latency-us": cpuLatencyMicroseconds = try flags.microsecondsOrOff(flag)
            case "--hold": receiverHolds = try Self.receiverHolds(try flags.value(flag), command: "straits-gateway")
            case "--heartbeat-ms": heartbeatSeconds = try flags.positive(flag) / 1000
            case "--dead-after-s": deadAfterSeconds = try flags.positive(flag)
            case "--join-timeout-s": joinTimeoutSeconds = try flags.positive(flag)
            default: throw flags.unknown(flag)
            }
        }
        for (flag, value) in [("--coordinator", coordinator), ("--region", region), ("--topology", topologyPath)] where value.isEmpty {
            throw RuntimeError("straits-gateway: \(flag) is required")
        }
    }
}
