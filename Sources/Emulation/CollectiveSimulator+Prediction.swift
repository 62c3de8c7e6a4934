import Collectives

extension CollectiveSimulator {
    /// What `predict` gives, and how busy the model keeps the cores meanwhile.
    public struct Prediction: Sendable, Equatable {
        /// The makespan: from the first rank leaving the barrier to the last rank's end, as the
        /// coordinator measures a bench step.
        public var seconds: Double
        /// The slowest rank's own time from its barrier to its end.
        public var rankSeconds = 0.0
        /// The work done on the cores (`Costs.cores`) over what they could have done, from the
        /// first rank leaving its barrier to the last rank's end; nil when the model has no
        /// cores. Near 1, this machine's cores, not the links, set the pace, and how they are
        /// shared then (the scheduler's wake-ups, caches) decides more than the model can.
        public var coresBusy: Double?
        /// Messages of the all-reduce (not its barrier) that cross a WAN link: those a receiver
        /// holds until they arrive.
        public var wanArrivals = 0
        /// What the cores could have done over the time `coresBusy` is taken over, in seconds of
        /// one thread's work; nil when the model has no cores.
        public var coreSeconds: Double?

        /// `coresBusy` with `seconds` more work on the cores for each WAN arrival (a receiver
        /// that spins for it).
        public func coresBusy(spinningPerArrival seconds: Double) -> Double? {
            guard let coresBusy, let coreSeconds, coreSeconds > 0 else { return coresBusy }
            return coresBusy + Double(wanArrivals) * seconds / coreSeconds
        }
    }

    /// The seconds the busiest WAN link spends serialising one all-reduce `choice` of `bytes`
    /// (its bytes, headers included, over its bandwidth); 0 without shaped links.
    public func busiestLinkSeconds(_ choice: ClusterPlanner.Choice, bytes: Int) -> Double {
        guard let links else { return 0 }
        let count = bytes / 4
        var carried: [Int: [Int: Int]] = [:]
        for rank in 0..<layout.ranks {
            let device = layout.device(ofRank: rank)
            for phase in ClusterCollective.phases(
                choice: choice, layout: layout, rank: rank, device: device, count: count,
                slice: ClusterCollective.slice(device: device, devices: layout.streams, count: count))
            {
                for operation in phase.schedule.operations where operation.kind.isSend {
                    let from = layout.region(ofRank: rank)
                    let to = layout.region(ofRank: operation.kind.peer)
                    guard from != to, let spec = links[from]?[to] else { continue }
                    // As the gateway serialises it: in chunks, each with its headers.
                    let bytes = operation.range.count * 4 + 64
                    let whole = bytes / gatewayChunkBytes
                    let rest = bytes % gatewayChunkBytes
                    let wire = whole * spec.framing.wireBytes(gatewayChunkBytes) + spec.framing.wireBytes(rest)
                    carried[from, default: [:]][to, default: 0] += wire
                }
            }
        }
        var busiest = 0.0
        for (from, targets) in carried {
            for (to, wire) in targets { busiest = max(busiest, Double(wire) * 8 / links[from]![to]!.bitsPerSecond) }
        }
        return busiest
    }
}
