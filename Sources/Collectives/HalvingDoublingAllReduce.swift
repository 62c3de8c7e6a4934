/// Recursive halving-doubling (Rabenseifner) and recursive doubling, for any number of ranks.
///
/// With `p` not a power of two, the first `2r` ranks (`r = p − p'`, `p'` the largest power of two
/// ≤ `p`) fold in pairs first: each even one sends its data to its odd neighbour, sits out, and
/// gets the result back at the end (MPICH's scheme).
///
/// - Rabenseifner: reduce-scatter by recursive halving, all-gather by recursive doubling.
///   Cost `2·log2(p')·α + 2(p'−1)/p'·n·β` (+ the fold). For small and medium messages.
/// - Recursive doubling: `log2(p')` exchanges of the whole buffer. Cost `log2(p')·(α + n·β)`;
///   the fewest message latencies, for small messages.
public enum HalvingDoublingAllReduce {
    /// Appends Rabenseifner's all-reduce of `range` over `group`.
    public static func appendRabenseifner(
        to schedule: inout CollectiveSchedule,
        group: [Int],
        range: ElementRange,
        chunkElements: Int,
        level: Int = 0
    ) {
        guard group.count > 1 else { return }
        withFold(&schedule, group: group, range: range, chunkElements: chunkElements, level: level) {
            schedule, members, newRank in
            let p2 = members.count
            let segments = range.split(into: p2)
            var window = 0..<p2
            var windows: [Range<Int>] = []
            var mask = p2 / 2
            var step = 0
            while mask >= 1 {
                let partner = members[newRank ^ mask]
                let half = window.count / 2
                let lower = window.lowerBound..<(window.lowerBound + half)
                let upper = (window.lowerBound + half)..<window.upperBound
                let (keep, give) = newRank & mask == 0 ? (lower, upper) : (upper, lower)
                addChunked(
                    &schedule, .send(peer: partner), union(segments, give), chunkElements,
                    phase: .halvingReduceScatter, level: level, step: step)
                addChunked(
                    &schedule, .receiveReduce(peer: partner), union(segments, keep), chunkElements,
                    phase: .halvingReduceScatter, level: level, step: step)
                windows.append(window)
                window = keep
                mask /= 2
                step += 1
            }
            mask = 1
            step = 0
            while mask < p2 {
                let partner = members[newRank ^ mask]
                let outer = windows.removeLast()
                let theirs =
                    window.lowerBound == outer.lowerBound
                    ? window.upperBound..<outer.upperBound
                    : outer.lowerBound..<window.lowerBound
                addChunked(
                    &schedule, .send(peer: partner), union(segments, window), chunkElements,
                    phase: .doublingAllGather, level: level, step: step)
                addChunked(
                    &schedule, .receiveCopy(peer: partner), union(segments, theirs), chunkElements,
                    phase: .doublingAllGather, level: level, step: step)
                window = outer
                mask *= 2
                step += 1
            }
        }
    }

    /// Appends the recursive-doubling all-reduce of `range` over `group`.
    public static func appendRecursiveDoubling(
        to schedule: inout CollectiveSchedule,
        group: [Int],
        range: ElementRange,
        chunkElements: Int,
        level: Int = 0
    ) {
        guard group.count > 1 else { return }
        withFold(&schedule, group: group, range: range, chunkElements: chunkElements, level: level) {
            schedule, members, newRank in
            var mask = 1
            var step = 0
            while mask < members.count {
                let partner = members[newRank ^ mask]
                addChunked(
                    &schedule, .send(peer: partner), range, chunkElements, phase: .recursiveDoubling, level: level,
                    step: step)
                addChunked(
                    &schedule, .receiveReduce(peer: partner), range, chunkElements, phase: .recursiveDoubling,
                    level: level, step: step)
                mask *= 2
                step += 1
            }
        }
    }

    /// Folds the ranks beyond the largest power of two into their neighbours, runs `body` over
    /// the power-of-two members (this rank's index among them given), and unfolds.
    private static func withFold(
        _ schedule: inout CollectiveSchedule,
        group: [Int],
        range: ElementRange,
        chunkElements: Int,
        level: Int,
        _ body: (inout CollectiveSchedule, [Int], Int) -> Void
    ) {
        let p = group.count
        let me = RingAllReduce.position(of: schedule.rank, in: group)
        var p2 = 1
        while p2 * 2 <= p { p2 *= 2 }
        let folded = p - p2
        // Members of the power-of-two core: odd ranks of the folded pairs, then everyone after.
        let members = (0..<p2).map { $0 < folded ? group[2 * $0 + 1] : group[$0 + folded] }

        if me < 2 * folded && me % 2 == 0 {
            addChunked(
                &schedule, .send(peer: group[me + 1]), range, chunkElements, phase: .foldIn, level: level, step: 0)
            addChunked(
                &schedule, .receiveCopy(peer: group[me + 1]), range, chunkElements, phase: .foldOut, level: level,
                step: 0)
            return
        }
        if me < 2 * folded {
            addChunked(
                &schedule, .receiveReduce(peer: group[me - 1]), range, chunkElements, phase: .foldIn, level: level,
                step: 0)
        }
        let newRank = me < 2 * folded ? me / 2 : me - folded
        body(&schedule, members, newRank)
        if me < 2 * folded {
            addChunked(
                &schedule, .send(peer: group[me - 1]), range, chunkElements, phase: .foldOut, level: level, step: 0)
        }
    }

    private static func union(_ segments: [ElementRange], _ indices: Range<Int>) -> ElementRange {
        let low = segments[indices.lowerBound].offset
        let high = segments[indices.upperBound - 1].end
        return ElementRange(offset: low, count: high - low)
    }

    private static func addChunked(
        _ schedule: inout CollectiveSchedule,
        _ kind: CollectiveSchedule.Kind,
        _ range: ElementRange,
        _ chunkElements: Int,
        phase: MessageTag.Phase,
        level: Int,
        step: Int
    ) {
        for (chunk, piece) in range.chunked(by: chunkElements).enumerated() {
            schedule.add(kind, piece, tag: MessageTag.make(phase, level: level, step: step, chunk: chunk))
        }
    }
}
