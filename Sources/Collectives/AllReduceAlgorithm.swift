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
    /// Direct: the ranks of one host reduce straight from each other's buffers in shared memory
    /// (owner-computes, as `hier`'s in-worker level), with no messages; `--transport shm` only.
    case direct

    public var description: String { rawValue }

    /// Appends this algorithm's flat (message-only) all-reduce of `range` over `group`.
    /// `hier` and `direct` are not flat: they run in shared memory (see the runtime).
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
        case .direct:
            preconditionFailure("direct runs in shared memory, with no messages")
        }
    }
}
