/// Ring all-reduce: a reduce-scatter then an all-gather around a ring of `p` ranks, each moving
/// `(p−1)/p` of the data, chunked so that several chunks are in flight at once and each chunk's
/// reduction overlaps the next chunk's transfer. Bandwidth-optimal: cost `2(p−1)α + 2(p−1)/p·n·β`.
public enum RingAllReduce {
    /// Appends the whole all-reduce of `range` over `group` (ranks in ring order).
    public static func append(
        to schedule: inout CollectiveSchedule,
        group: [Int],
        range: ElementRange,
        chunkElements: Int,
        level: Int = 0
    ) {
        guard group.count > 1 else { return }
        appendReduceScatter(to: &schedule, group: group, range: range, chunkElements: chunkElements, level: level)
        appendAllGather(to: &schedule, group: group, range: range, chunkElements: chunkElements, level: level)
    }

    /// The segment of `range` that the rank at `position` of a `p`-rank ring owns after the
    /// reduce-scatter.
    public static func ownedSegment(of range: ElementRange, position: Int, ranks p: Int) -> ElementRange {
        range.split(into: p)[(position + 1) % p]
    }

    /// Appends the reduce-scatter: afterwards this rank holds the full sum of its owned segment.
    @discardableResult
    public static func appendReduceScatter(
        to schedule: inout CollectiveSchedule,
        group: [Int],
        range: ElementRange,
        chunkElements: Int,
        level: Int = 0
    ) -> ElementRange {
        let p = group.count
        let me = position(of: schedule.rank, in: group)
        let segments = range.split(into: p)
        guard p > 1 else { return range }
        let right = group[(me + 1) % p]
        let left = group[(me + p - 1) % p]
        for step in 0..<(p - 1) {
            let sendChunks = segments[(me - step + p) % p].chunked(by: chunkElements)
            let receiveChunks = segments[(me - step - 1 + 2 * p) % p].chunked(by: chunkElements)
            for chunk in 0..<max(sendChunks.count, receiveChunks.count) {
                if chunk < sendChunks.count {
                    let tag = MessageTag.make(.ringReduceScatter, level: level, step: step, chunk: chunk)
                    schedule.add(.send(peer: right), sendChunks[chunk], tag: tag)
                }
                if chunk < receiveChunks.count {
                    let tag = MessageTag.make(.ringReduceScatter, level: level, step: step, chunk: chunk)
                    schedule.add(.receiveReduce(peer: left), receiveChunks[chunk], tag: tag)
                }
            }
        }
        return segments[(me + 1) % p]
    }

    /// Appends the all-gather that follows a reduce-scatter over the same group and range.
    public static func appendAllGather(
        to schedule: inout CollectiveSchedule,
        group: [Int],
        range: ElementRange,
        chunkElements: Int,
        level: Int = 0
    ) {
        let p = group.count
        guard p > 1 else { return }
        let me = position(of: schedule.rank, in: group)
        let segments = range.split(into: p)
        let right = group[(me + 1) % p]
        let left = group[(me + p - 1) % p]
        for step in 0..<(p - 1) {
            let sendChunks = segments[(me + 1 - step + p) % p].chunked(by: chunkElements)
            let receiveChunks = segments[(me - step + p) % p].chunked(by: chunkElements)
            for chunk in 0..<max(sendChunks.count, receiveChunks.count) {
                let tag = MessageTag.make(.ringAllGather, level: level, step: step, chunk: chunk)
                if chunk < sendChunks.count { schedule.add(.send(peer: right), sendChunks[chunk], tag: tag) }
                if chunk < receiveChunks.count {
                    schedule.add(.receiveCopy(peer: left), receiveChunks[chunk], tag: tag)
                }
            }
        }
    }

    static func position(of rank: Int, in group: [Int]) -> Int {
        guard let position = group.firstIndex(of: rank) else {
            preconditionFailure("rank \(rank) is not in its group \(group)")
        }
        return position
    }
}
