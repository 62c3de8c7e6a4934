import StraitsWire

/// A piece of a data message that has arrived: the message's data header, where in its payload
/// the piece starts, and its bytes, in one or two parts (a ring wraps). Valid until the plane's
/// next call.
public struct Fragment {
    /// The peer it came from: the ring's sender, or the rank a stream's first message named.
    public var peer: Int
    public var header: DataFrameHeader
    public var start: Int
    public var first: UnsafeRawBufferPointer
    public var second: UnsafeRawBufferPointer
    public var count: Int { first.count + second.count }

    /// Copies the piece's bytes, both parts in order, to `target`.
    func copyBytes(to target: UnsafeMutableRawPointer) {
        if first.count > 0 { target.copyMemory(from: first.baseAddress!, byteCount: first.count) }
        if second.count > 0 { (target + first.count).copyMemory(from: second.baseAddress!, byteCount: second.count) }
    }
}

/// A rank's data plane whose messages arrive in pieces that the rank can apply as they come,
/// driven by the rank's own thread with no other thread on the way: rings in shared memory
/// (`SharedMemoryPlane`) and ZMTP streams over TCP (`StreamPlane`). `FragmentExecutor` runs
/// schedules on either.
public protocol FragmentPlane: AnyObject {
    var rank: Int { get }
    /// The membership epoch sent in every header (0: the bench's ranks).
    var epoch: UInt32 { get }
    /// How long a rank with nothing to do polls before it sleeps.
    var spin: Duration { get }
    /// Whether polling yields the core at every turn (more ranks than cores), or now and then.
    var yieldsWhileSpinning: Bool { get }
    /// Pieces of later collectives, kept for them.
    var early: EarlyStore { get }
    /// Counts a dropped piece or message and says why.
    func reject(_ reason: String)
    /// Writes what can go now of a message to `peer`, from byte `sent` of its payload (advanced
    /// past what was written); true once the whole message is written and its range free.
    func write(to peer: Int, header: DataFrameHeader, payload: UnsafeRawBufferPointer, sent: inout Int) throws -> Bool
    /// Makes what was written visible to the peers (and wakes them).
    func flush() throws
    /// Hands each piece that has arrived to `deliver`; whether anything arrived or progressed.
    func poll(_ deliver: (Fragment) throws -> Void) throws -> Bool
    /// Sleeps until something may have arrived, or `nanoseconds` pass; `changed` is checked once
    /// the sleep is armed, so that nothing that comes in between is missed.
    func sleep(nanoseconds: Int64, unless changed: () throws -> Bool) throws
}

/// Pieces of later collectives, copied, by collective id: bounded, so that a peer cannot make
/// the rank hold more than `limit` however far ahead it runs (or claims to).
public final class EarlyStore {
    struct Piece {
        let peer: Int
        let header: DataFrameHeader
        let start: Int
        let bytes: [UInt8]
    }

    private var pieces: [UInt64: [Piece]] = [:]
    public private(set) var count = 0
    public private(set) var bytes = 0
    /// The most the store holds: pieces and payload bytes.
    public var limit = (pieces: 65_536, bytes: 1 << 30)

    public init() {}

    /// Keeps a copy of `fragment`; false (nothing kept) beyond `limit`.
    func keep(_ fragment: Fragment) -> Bool {
        guard count < limit.pieces, bytes + fragment.count <= limit.bytes else { return false }
        var copy = [UInt8](repeating: 0, count: fragment.count)
        copy.withUnsafeMutableBytes { if let target = $0.baseAddress { fragment.copyBytes(to: target) } }
        pieces[fragment.header.collectiveID, default: []].append(
            Piece(peer: fragment.peer, header: fragment.header, start: fragment.start, bytes: copy))
        count += 1
        bytes += fragment.count
        return true
    }

    /// Takes what was kept for `collective`, in the order it came.
    func take(_ collective: UInt64) -> [Piece] {
        let taken = pieces.removeValue(forKey: collective) ?? []
        count -= taken.count
        bytes -= taken.reduce(0) { $0 + $1.bytes.count }
        return taken
    }

    /// Drops what was kept for collectives before `collective`; returns how many pieces.
    func drop(before collective: UInt64) -> Int {
        var dropped = 0
        for key in pieces.keys where key < collective { dropped += take(key).count }
        return dropped
    }
}
