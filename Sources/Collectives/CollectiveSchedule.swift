/// One rank's part of a collective, as operations on its buffer and the dependencies between them.
///
/// An algorithm (ring, Rabenseifner, recursive doubling, a barrier) is a builder of schedules.
/// The schedule does no I/O: a transport shell carries out its operations, in any order the
/// dependencies allow, so that chunks pipeline and several are in flight at once.
///
/// Dependencies follow from the ranges each operation reads and writes, as in a task graph:
/// a read waits for the last write of the range (read after write), a write waits for earlier
/// reads and writes (write after read, write after write). A send counts as a read until the
/// transport has released the bytes: a zero-copy send keeps reading the buffer after it is
/// handed over, and a receive into the same range must wait for that release.
public struct CollectiveSchedule: Sendable, CustomStringConvertible {
    /// What an operation does.
    public enum Kind: Hashable, Sendable {
        /// Send the range's current contents to `peer`.
        case send(peer: Int)
        /// Receive a message from `peer` and add it into the range.
        case receiveReduce(peer: Int)
        /// Receive a message from `peer` and copy it into the range.
        case receiveCopy(peer: Int)

        public var peer: Int {
            switch self {
            case .send(let peer), .receiveReduce(let peer), .receiveCopy(let peer): peer
            }
        }

        public var isSend: Bool {
            if case .send = self { return true }
            return false
        }

        var reads: Bool {
            switch self {
            case .send, .receiveReduce: true
            case .receiveCopy: false
            }
        }

        var writes: Bool { !isSend }
    }

    /// One operation; `tag` matches a send with the peer's receive.
    public struct Operation: Hashable, Sendable, CustomStringConvertible {
        public let id: Int
        public let kind: Kind
        public let range: ElementRange
        public let tag: UInt64
        public let dependencies: [Int]

        public var description: String {
            let verb: String
            switch kind {
            case .send(let peer): verb = "send → \(peer)"
            case .receiveReduce(let peer): verb = "reduce ← \(peer)"
            case .receiveCopy(let peer): verb = "copy ← \(peer)"
            }
            return "#\(id) \(verb) \(range) tag \(tag)"
        }
    }

    public let rank: Int
    public let ranks: Int
    public private(set) var operations: [Operation] = []
    private var hazards = RangeHazards()

    public init(rank: Int, ranks: Int) {
        precondition(ranks >= 1 && rank >= 0 && rank < ranks, "rank \(rank) of \(ranks)")
        self.rank = rank
        self.ranks = ranks
    }

    /// Appends an operation. Its dependencies are the earlier operations whose ranges conflict
    /// with it, plus `after` (for ordering that ranges don't show, such as empty messages).
    @discardableResult
    public mutating func add(_ kind: Kind, _ range: ElementRange, tag: UInt64, after: [Int] = []) -> Int {
        precondition(
            kind.peer != rank && kind.peer >= 0 && kind.peer < ranks, "rank \(rank): peer \(kind.peer) of \(ranks)")
        let id = operations.count
        var dependencies = hazards.record(id, range: range, reads: kind.reads, writes: kind.writes)
        dependencies.formUnion(after)
        operations.append(Operation(id: id, kind: kind, range: range, tag: tag, dependencies: dependencies.sorted()))
        return id
    }

    /// Bytes this rank sends.
    public var bytesSent: Int {
        operations.reduce(0) { $0 + ($1.kind.isSend ? $1.range.count * MemoryLayout<Float>.size : 0) }
    }

    public var description: String {
        "rank \(rank)/\(ranks): " + operations.map(\.description).joined(separator: "; ")
    }
}
