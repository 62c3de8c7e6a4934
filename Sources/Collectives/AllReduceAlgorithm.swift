/// The all-reduce algorithms Straits can run.
public enum AllReduceAlgorithm: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Chunked, pipelined ring: reduce-scatter then all-gather.
    case ring
    /// Recursive halving-doubling (Rabenseifner).
    case rhd
    /// Recursive doubling: whole-buffer exchanges, fewest latencies.
    case rd
    /// Hierarchical: shared-memory reduce inside each worker (NUMA-aware, owner-computes), a ring
    /// per device slice between workers (one stream per device), shared-memory all-gather.
    case hier

    public var description: String { rawValue }

    /// Appends this algorithm's flat (message-only) all-reduce of `range` over `group`.
    /// `hier` is not flat: its in-worker levels run in shared memory (see the runtime).
    public func appendFlat(
        to schedule: inout CollectiveSchedule,
        group: [Int],
        range: ElementRange,
        chunkElements: Int
    ) {
        switch self {
        case .ring:
            RingAllReduce.append(to: &schedule, group: group, range: range, chunkElements: chunkElements)
        case .rhd:
            HalvingDoublingAllReduce.appendRabenseifner(
                to: &schedule, group: group, range: range, chunkElements: chunkElements)
        case .rd:
            HalvingDoublingAllReduce.appendRecursiveDoubling(
                to: &schedule, group: group, range: range, chunkElements: chunkElements)
        case .hier:
            preconditionFailure("hier has shared-memory levels; build its inter-worker part with a flat algorithm")
        }
    }
}
