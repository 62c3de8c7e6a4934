/// Which messages of a collective travel in a lossy wire format, and the error-feedback state.
///
/// Every rank must end with the same bits, whichever hops were compressed. The formats are
/// idempotent (a rounded value encodes to itself), so it is enough that every finished value is
/// rounded once, by the rank that holds it, before it is handed on; and that both sides of a
/// symmetric exchange (recursive doubling) round their own part before adding the other's:
/// - reduce-scatter sends (ring, halving, fold-in) carry partial sums: encoded with the
///   residual, the sender's copy left alone (the receiver adds it in float32);
/// - all-gather sends (ring, doubling, fold-out) carry finished values: the sender rounds its own
///   copy first, so it keeps what everyone else receives;
/// - recursive-doubling exchanges round the sender's copy before it goes.
/// Folds (recursive doubling and halving over a group that is not a power of two) would leave
/// the folded ranks with values rounded differently, so compressed collectives refuse them:
/// use a ring there (`WireCompression.algorithm(for:ranks:)`).
/// Error feedback (the residual) is applied where a rank encodes values it owns for the first
/// time in a collective: reduce-scatter sends and the first all-gather or exchange round.
public struct WireCompression {
    /// A compressed collective that would fold ranks (see above).
    public struct FoldRefused: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public let format: WireCodec.Format
    /// Per rank: whether messages to it are compressed (those that cross the WAN).
    public let compressTo: [Bool]
    /// Error feedback: what earlier encodings lost, per element of the buffer (nil: none).
    public let residual: UnsafeMutablePointer<Float>?

    public init(format: WireCodec.Format, compressTo: [Bool], residual: UnsafeMutablePointer<Float>?) {
        self.format = format
        self.compressTo = compressTo
        self.residual = residual
    }

    /// The algorithm to run compressed over `ranks`: recursive doubling and halving only over a
    /// power of two (no fold), otherwise the ring.
    public static func algorithm(for algorithm: AllReduceAlgorithm, ranks: Int) -> AllReduceAlgorithm {
        algorithm == .ring || ranks & (ranks - 1) == 0 ? algorithm : .ring
    }

    /// Throws when `schedule` folds ranks (see above).
    public func check(_ schedule: CollectiveSchedule) throws {
        let folds = [MessageTag.Phase.foldIn, .foldOut].map { UInt64($0.rawValue) }
        if let fold = schedule.operations.first(where: { folds.contains(($0.tag >> 56) % 8) }) {
            throw FoldRefused(
                description:
                    "rank \(schedule.rank): a compressed collective cannot fold ranks (\(fold)); use a ring or a power-of-two group"
            )
        }
    }

    /// The encoded payload of a send, or nil when it goes as float32 (after any rounding of the
    /// sender's own copy that consistency needs).
    public func encode(_ operation: CollectiveSchedule.Operation, buffer: UnsafeMutableRawPointer) -> [UInt8]? {
        let range = operation.range
        guard range.count > 0, let phase = MessageTag.Phase(rawValue: UInt32((operation.tag >> 56) % 8)) else {
            return nil
        }
        let first = (operation.tag >> 32) & 0xFF_FFFF == 0
        let compressed = compressTo[operation.kind.peer]
        let useResidual: Bool
        let writeBack: Bool
        switch phase {
        case .ringReduceScatter, .halvingReduceScatter, .foldIn:
            guard compressed else { return nil }
            (useResidual, writeBack) = (true, false)
        case .ringAllGather, .doublingAllGather:
            (useResidual, writeBack) = (first, true)
        case .foldOut:
            (useResidual, writeBack) = (false, true)
        case .recursiveDoubling:
            // Every pair rounds in every round, compressed or not, so that pairs that crossed
            // the WAN and pairs that did not hold the same bits afterwards.
            (useResidual, writeBack) = (first, true)
        case .barrier:
            return nil
        }
        var bytes = [UInt8](repeating: 0, count: WireCodec.encodedSize(format, count: range.count))
        let feedback = useResidual ? residual.map { $0 + range.offset } : nil
        bytes.withUnsafeMutableBytes {
            WireCodec.encode(
                format, from: buffer + range.offset * 4, count: range.count, residual: feedback, writeBack: writeBack,
                into: $0.baseAddress!)
        }
        return compressed ? bytes : nil
    }
}
