import ArgumentParser
import StraitsWire
import Transport

/// Flags of `straits-gateway`.
public struct GatewayOptions: ParsableArguments, Sendable {
    public static let discussion = """
        The gateway of one region: carries all of the region's traffic to other regions. Each \
        directed link of the topology is a queue served at the link's bandwidth (messages cut into \
        chunks, the next taken from the flow served fewest bytes) and a delay line of its latency ± \
        jitter; queues are bounded and push back on senders. Counters go to the coordinator, which \
        writes them to links.jsonl. Exits 0 when the job finished, 1 when it failed, 3 when refused.
        """

    @Option(help: ArgumentHelp("The coordinator's control endpoint.", valueName: "endpoint"))
    public var coordinator: String

    @Option(help: ArgumentHelp("The region this gateway serves.", valueName: "name"))
    public var region: String

    @Option(
        name: .customLong("topology"),
        help: ArgumentHelp("The topology (links: bandwidth, latency, jitter).", valueName: "file"))
    public var topologyPath: String

    @OptionGroup public var bind: BindOptions

    /// Chunks the link model cuts messages into, so that flows share a link fairly.
    @Option(name: .customLong("chunk-bytes"), help: ArgumentHelp("Link chunk size, bytes.", valueName: "n"))
    public var chunkBytes = 64 << 10

    /// Bytes a link may hold queued before the gateway stops reading that link's ingress.
    @Option(name: .customLong("queue-bytes"), help: ArgumentHelp("Queue bound per link, bytes.", valueName: "n"))
    public var queueBytes = 64 << 20

    /// Delivery threads racing to each delivery, each pinned to a CPU of its own where more than
    /// one (at most one per CPU).
    @Option(
        name: .customLong("delivery-threads"),
        help: ArgumentHelp(
            "Threads that race to send each delivery on time.",
            discussion:
                "Each pinned to a CPU of its own when more than one (at most one per CPU): on a virtual machine, 2 are late far less often, and take more of the cores from the ranks.",
            valueName: "n"))
    public var deliveryThreads = 1

    @Option(
        name: .customLong("cpu-latency-us"),
        help: ArgumentHelp(
            "While a link has traffic in flight, keep every CPU's wake-up latency within this (µs, or off).",
            discussion:
                "Asked of the kernel through /dev/cpu_dma_latency. 0: idle CPUs poll instead of halting, which on a virtual machine would make a delivery's wake-up hundreds of microseconds late; off: ask nothing.",
            valueName: "us|off"))
    var cpuLatency = LatencyBound(microseconds: 0)

    @Option(
        help: ArgumentHelp(
            "Where a message waits until its link says it arrives.",
            discussion:
                "receiver: the gateway sends it on as soon as that time is settled, with an arrival frame in the coordinator's time, and the rank takes it at that time on its own clock, converted with the offset it measured (so the trip from the gateway to the rank is off the message's path); gateway: it sends it on at that time, less the trip."
        ))
    var hold = HoldPlace.receiver

    @OptionGroup public var watch: WatchOptions

    @OptionGroup public var security: SecurityOptions

    public init() {}

    /// Parses a command line (see `ParsableArguments.parsing`).
    public init(arguments: [String]) throws {
        self = try Self.parsing(arguments)
    }

    public func validate() throws {
        try security.check(bindsOffLoopback: bind.offLoopback, what: "--bind-address \(bind.address)")
        try FlagCheck.atLeast(chunkBytes, 1, "--chunk-bytes")
        try FlagCheck.atLeast(queueBytes, 1, "--queue-bytes")
        try FlagCheck.atLeast(deliveryThreads, 1, "--delivery-threads")
    }

    public var heartbeatSeconds: Double { watch.heartbeatSeconds }
    public var deadAfterSeconds: Double { watch.deadAfterSeconds }
    public var joinTimeoutSeconds: Double { watch.joinTimeoutSeconds }
    /// The CPU wake-up latency the gateway asks the kernel for while traffic is in flight
    /// (`CPULatencyRequest`); nil: it asks nothing.
    public var cpuLatencyMicroseconds: Int? { cpuLatency.microseconds }
    /// Where a message waits out the rest of its link's time: at its receiver (the gateway sends
    /// it on as soon as its arrival time is settled, with that time), or at the gateway.
    public var receiverHolds: Bool { hold == .receiver }
}
