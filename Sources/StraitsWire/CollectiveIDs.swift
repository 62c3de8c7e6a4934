/// How collective ids (the data-frame header's `collective`) are handed out, so that messages of
/// one probe, step or bucket never match another's. Each range is a contract between the
/// coordinator, which allocates them, and the workers, which count up inside them.
public enum CollectiveIDs {
    /// The first link probe's first id.
    public static let firstProbe = 1
    /// Ids one link probe may use (its ping-pongs and bandwidth messages count up from its first).
    public static let perProbe = 128
    /// Ids below this are the probes'; steps start here.
    public static let firstStep = 1 << 20
    /// Ids one bench or sync step may use: its barriers and each level's all-reduce.
    public static let perStep = 8
    /// Ids one training bucket's all-reduce may use: one per level.
    public static let perBucket = 4

    /// The first id of the `index`-th link probe (from 0).
    public static func probe(_ index: Int) -> Int { firstProbe + index * perProbe }

    /// The first id of bench or sync step `step` (from 0).
    public static func step(_ step: Int) -> Int { firstStep + step * perStep }

    /// Ids one training step of `buckets` gradient buckets uses: each bucket's gradient
    /// all-reduce, each bucket's outer synchronisation, and a step's own barriers.
    public static func trainingStepSpan(buckets: Int) -> Int { 2 * buckets * perBucket + perStep }
}
