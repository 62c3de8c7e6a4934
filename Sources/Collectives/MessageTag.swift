/// Tags that match a send with its receive: a phase, a step inside it, and a chunk.
///
/// Layout: bits 56–63 phase, 32–55 step, 0–31 chunk. Composed algorithms give each of their
/// parts its own phase, so no two messages between the same pair of ranks share a tag.
public enum MessageTag {
    public enum Phase: UInt32, Sendable {
        case ringReduceScatter = 0
        case ringAllGather = 1
        case foldIn = 2
        case halvingReduceScatter = 3
        case doublingAllGather = 4
        case foldOut = 5
        case recursiveDoubling = 6
        case barrier = 7
    }

    /// The tag for `chunk` of `step` in `phase`, offset by `level` phases for hierarchical parts.
    public static func make(_ phase: Phase, level: Int = 0, step: Int, chunk: Int) -> UInt64 {
        precondition(step < 1 << 24 && chunk < 1 << 32, "step \(step) or chunk \(chunk) out of tag range")
        let phaseValue = UInt64(phase.rawValue) + UInt64(level) * 8
        return phaseValue << 56 | UInt64(step) << 32 | UInt64(chunk)
    }
}
