/// Hierarchical all-reduce over nested groups of ranks, innermost level first.
///
/// `shape` gives the group size at each level (for example `[2, 3]`: pairs of ranks, three
/// pairs); ranks are numbered so that each group is a contiguous block. Each level runs a ring
/// reduce-scatter inside its group, so every rank ends up owning one slice; the next level
/// all-reduces each slice among the ranks that own it (one ring per slice, all in parallel);
/// then the all-gathers run back out. Only `1/s` of the data crosses each outer level per rank,
/// which is what makes the slow outer links (region, WAN) cheap.
public enum HierarchicalAllReduce {
    public static func append(
        to schedule: inout CollectiveSchedule,
        shape: [Int],
        range: ElementRange,
        chunkElements: Int
    ) {
        precondition(shape.reduce(1, *) == schedule.ranks, "hierarchy \(shape) does not cover \(schedule.ranks) ranks")
        append(&schedule, shape: shape[...], level: 0, stride: 1, range: range, chunkElements: chunkElements)
    }

    private static func append(
        _ schedule: inout CollectiveSchedule,
        shape: ArraySlice<Int>,
        level: Int,
        stride: Int,
        range: ElementRange,
        chunkElements: Int
    ) {
        guard let size = shape.first else { return }
        // The group at this level: `size` ranks, `stride` apart, inside this rank's block of
        // `size × stride` ranks.
        let blockSpan = size * stride
        let blockBase = schedule.rank / blockSpan * blockSpan
        let offsetInBlock = (schedule.rank - blockBase) % stride
        let group = (0..<size).map { blockBase + offsetInBlock + $0 * stride }
        if shape.count == 1 {
            RingAllReduce.append(to: &schedule, group: group, range: range, chunkElements: chunkElements, level: level)
            return
        }
        let owned = RingAllReduce.appendReduceScatter(
            to: &schedule, group: group, range: range, chunkElements: chunkElements, level: level)
        append(
            &schedule, shape: shape.dropFirst(), level: level + 1, stride: blockSpan,
            range: owned, chunkElements: chunkElements)
        RingAllReduce.appendAllGather(
            to: &schedule, group: group, range: range, chunkElements: chunkElements, level: level)
    }
}
