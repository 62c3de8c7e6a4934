import Collectives

extension CollectiveSimulator {
    public struct Costs: Sendable {
        /// Between two workers of one region, and between a worker and its gateway.
        public var lan: LinkCost
        /// Between two devices of one worker.
        public var local: LinkCost
        public var reduceSecondsPerByte: Double
        public var copySecondsPerByte: Double
        /// What the gateways allow for the hops at each end of a WAN link (cut-through), as
        /// they were told; nil: store-and-forward.
        public var gatewayHop: LinkCost?
        /// The cores the cluster's processes share, when they are one machine's (in threads' worth
        /// of memory-bound work: `HostCalibration`); nil: the LAN is one link, and each rank
        /// reduces alone. With cores, everything that takes a core shares them: each rank's
        /// thread checksums what it sends, checks what it receives and reduces or copies it, one
        /// thing after another; a message between two processes is copied through the kernel by
        /// both ends' I/O threads at once (what is left of `lan.beta` once the checksums and the
        /// receiver's copy are taken out), one message of a connection after another.
        public var cores: Double?
        /// CRC32C per byte, on sending and again on receiving (0: no checksums).
        public var checksumSecondsPerByte: Double = 0
        /// With cores: what a message between two processes costs the cores of its two ends
        /// beyond its bytes (system calls, wake-ups, the message's bookkeeping), shared by the
        /// ends' I/O threads like its copies; the LAN probe measures it as the processor time
        /// of a ping-pong on one side. It is part of what a lone message's α measures, so the
        /// α left after a trip is that much less.
        public var messageSeconds: Double = 0
        /// Whether messages cross the LAN: between workers of a region, and to and from the
        /// gateways around a WAN link. False models regions whose fabric is accounted for
        /// elsewhere (`straits simulate`): a message inside a region arrives at once, one
        /// between regions goes straight onto its WAN link, and every send completes at once.
        public var lanHops = true

        public init(
            lan: LinkCost, local: LinkCost = LinkCost(alphaSeconds: 5e-6, betaSecondsPerByte: 1 / 8e9),
            reduceSecondsPerByte: Double = 1 / 6e9, copySecondsPerByte: Double = 1 / 10e9, gatewayHop: LinkCost? = nil
        ) {
            self.lan = lan
            self.gatewayHop = gatewayHop
            self.local = local
            self.reduceSecondsPerByte = reduceSecondsPerByte
            self.copySecondsPerByte = copySecondsPerByte
        }
    }
}
