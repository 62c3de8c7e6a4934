import CStraitsShims
import Foundation
import StraitsWire

/// A shared-memory file mapped by two processes of one host (`/dev/shm`), made by whichever end
/// comes first: a new file reads as zeros, so both ends start from the same state.
final class SharedMapping: @unchecked Sendable {
    // Unchecked Sendable: the words in it are read and written through atomics (the shims');
    // the payload bytes are handed over by the ring's head and tail.
    let name: String
    let base: UnsafeMutableRawPointer
    let bytes: Int

    init(name: String, bytes: Int) throws {
        guard let base = straits_shm_map(name, bytes) else {
            let number = straits_errno()
            let reason =
                number == EEXIST
                ? "it exists with another size (a different build, or not a Straits file)"
                : String(cString: strerror(number))
            throw RuntimeError(.invalidArgument, "shared memory /dev/shm/\(name) (\(bytes) bytes): \(reason)")
        }
        self.name = name
        self.base = base
        self.bytes = bytes
    }

    deinit { straits_shm_unmap(base, bytes) }

    func word64(at offset: Int) -> UnsafeMutablePointer<UInt64> {
        (base + offset).assumingMemoryBound(to: UInt64.self)
    }

    func word32(at offset: Int) -> UnsafeMutablePointer<UInt32> {
        (base + offset).assumingMemoryBound(to: UInt32.self)
    }

    /// Removes the file (both ends keep their mappings).
    func unlink() { _ = straits_shm_unlink(name) }
}

/// A rank's doorbell in shared memory: a futex word that the peers bump after they write to one
/// of its incoming rings, free room in one of its outgoing ones or pass a barrier, and a flag the
/// rank raises while it sleeps on the word, so that a peer makes the wake-up system call only
/// then. Layout: the word (u32) at 0, the flag (u32) at 64, the barrier counter (u64) at 128.
final class SharedBell: @unchecked Sendable {
    let mapping: SharedMapping
    private var sequence: UnsafeMutablePointer<UInt32> { mapping.word32(at: 0) }
    private var sleeping: UnsafeMutablePointer<UInt32> { mapping.word32(at: 64) }
    /// The barriers of `HostAllReduce` the owner has reached (written by the owner only).
    var arrived: UnsafeMutablePointer<UInt64> { mapping.word64(at: 128) }

    init(name: String) throws {
        mapping = try SharedMapping(name: name, bytes: 4096)
    }

    /// Tells the owner that something changed (a peer's side).
    func ring() {
        _ = straits_fetch_add_u32(sequence, 1)
        if straits_load_acquire_u32(sleeping) != 0 { _ = straits_futex_wake(sequence) }
    }

    /// The owner's sleep: `changed` is checked again after the flag is raised, so a ring between
    /// the last check and the sleep is not lost; returns at a ring or after `nanoseconds`.
    func sleep(nanoseconds: Int64, unless changed: () throws -> Bool) rethrows {
        let seen = straits_load_acquire_u32(sequence)
        straits_store_u32(sleeping, 1)
        defer { straits_store_u32(sleeping, 0) }
        if try changed() { return }
        _ = straits_futex_wait(sequence, seen, nanoseconds)
    }
}

/// One direction between two ranks of a host: a single-producer, single-consumer ring of records
/// in shared memory, each a data frame header, a fragment header and up to `fragmentBytes` of the
/// message's payload, padded to 64 bytes. The producer publishes a record by moving `head` past
/// it; the consumer frees it by moving `tail`. Both are byte counts that only grow.
///
/// Layout of the file: `head` (UInt64) at 0, `tail` at 64, the ring from 4096.
/// Fragment header (64 bytes, little-endian): magic `STRF` (u32), 0 (u32), the fragment's start
/// in the message (u64), its payload bytes (u64), the gap before the payload (u32: a multiple of
/// 64 below 4096), zeros. The gap puts the payload half a page away, in its address's low 12
/// bits, from where it goes in the receiver's buffer (and comes from in the sender's): a load
/// from one that matches a store to the other in those bits waits for the store (4K aliasing),
/// which made the reduction out of the ring up to 7 times slower (measured) wherever the ring's
/// position happened to line up with the buffer.
///
/// The other end is another process, so what it writes is checked like bytes from a socket:
/// a head or tail out of range, or a record that does not fit, stops the ring with an error.
final class SharedRing: @unchecked Sendable {
    static let dataOffset = 4096
    static let recordHeaderBytes = DataFrameHeader.size + 64
    static let fragmentMagic: UInt32 = 0x4652_5453
    /// The smallest ring whose records have gaps.
    static let gappedCapacity = 64 << 10

    let mapping: SharedMapping
    let capacity: Int
    /// The peer at the other end, for errors.
    let peer: Int
    /// This end's copy of its own counter (the head for a producer, the tail for a consumer).
    private(set) var mine: UInt64

    var head: UnsafeMutablePointer<UInt64> { mapping.word64(at: 0) }
    var tail: UnsafeMutablePointer<UInt64> { mapping.word64(at: 64) }
    var data: UnsafeMutableRawPointer { mapping.base + Self.dataOffset }

    init(name: String, capacity: Int, peer: Int, producer: Bool) throws {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "ring capacity \(capacity) is a power of two")
        mapping = try SharedMapping(name: name, bytes: Self.dataOffset + capacity)
        self.capacity = capacity
        self.peer = peer
        mine = straits_load_acquire_u64(producer ? mapping.word64(at: 0) : mapping.word64(at: 64))
    }

    static func padded(_ bytes: Int) -> Int { (bytes + 63) & ~63 }

    /// The bytes of a record carrying `payload` bytes.
    static func recordBytes(payload: Int, gap: Int) -> Int { recordHeaderBytes + gap + padded(payload) }

    /// The gap before a payload written now that goes to byte `offset` of the receiver's buffer.
    /// None in a ring under 64 KiB (tests' rings), where it would take too much of the room.
    func gap(towards offset: Int) -> Int {
        guard capacity >= Self.gappedCapacity else { return 0 }
        let payloadAt = Int((mine + UInt64(Self.recordHeaderBytes)) & UInt64(capacity - 1))
        return ((offset & ~63) + 2048 - payloadAt) & 4095
    }

    private func corrupt(_ what: String) -> RuntimeError {
        RuntimeError(.protocolViolation, "shared-memory ring with rank \(peer) (\(mapping.name)): \(what)")
    }

    // MARK: Producer

    /// Room for a record now (the consumer's tail read and checked).
    func freeBytes() throws -> Int {
        let consumed = straits_load_acquire_u64(tail)
        guard consumed <= mine, mine - consumed <= UInt64(capacity) else {
            throw corrupt("the consumer's tail \(consumed) is out of range (head \(mine), capacity \(capacity))")
        }
        return capacity - Int(mine - consumed)
    }

    /// Writes one record at the head (the caller checked the room); published by `publish`.
    func write(header: DataFrameHeader, fragmentStart: Int, payload: UnsafeRawBufferPointer, gap: Int = 0) {
        var position = Int(mine & UInt64(capacity - 1))
        header.encode(into: UnsafeMutableRawBufferPointer(start: data + position, count: DataFrameHeader.size))
        // Positions are multiples of 64 and so is the capacity: each 64-byte line lies whole in
        // the ring, but the second may be the ring's first.
        let fragment = data + ((position + DataFrameHeader.size) & (capacity - 1))
        fragment.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
        fragment.storeBytes(of: Self.fragmentMagic.littleEndian, as: UInt32.self)
        fragment.storeBytes(of: UInt64(fragmentStart).littleEndian, toByteOffset: 8, as: UInt64.self)
        fragment.storeBytes(of: UInt64(payload.count).littleEndian, toByteOffset: 16, as: UInt64.self)
        fragment.storeBytes(of: UInt32(gap).littleEndian, toByteOffset: 24, as: UInt32.self)
        position = (position + Self.recordHeaderBytes + gap) & (capacity - 1)
        let first = min(payload.count, capacity - position)
        if first > 0 { (data + position).copyMemory(from: payload.baseAddress!, byteCount: first) }
        if payload.count > first {
            data.copyMemory(from: payload.baseAddress! + first, byteCount: payload.count - first)
        }
        mine += UInt64(Self.recordBytes(payload: payload.count, gap: gap))
    }

    /// Makes the records written so far visible to the consumer.
    func publish() { straits_store_release_u64(head, mine) }

    // MARK: Consumer

    /// One record the consumer may read: its headers and its payload, in one or two pieces (the
    /// ring wraps).
    struct Record {
        var header: DataFrameHeader
        var fragmentStart: Int
        var first: UnsafeRawBufferPointer
        var second: UnsafeRawBufferPointer
        var bytes: Int
        var payloadBytes: Int { first.count + second.count }
    }

    /// The record at the tail, if the producer has published one; throws if what it published
    /// is not a record of this ring.
    func next() throws -> Record? {
        let published = straits_load_acquire_u64(head)
        guard published >= mine, published - mine <= UInt64(capacity) else {
            throw corrupt("the producer's head \(published) is out of range (tail \(mine), capacity \(capacity))")
        }
        let available = Int(published - mine)
        if available == 0 { return nil }
        guard available >= Self.recordHeaderBytes else {
            throw corrupt("\(available) bytes published, less than a record's headers")
        }
        var position = Int(mine & UInt64(capacity - 1))
        // The headers are copied before they are checked: the producer could change them after.
        var headerBytes = [UInt8](repeating: 0, count: Self.recordHeaderBytes)
        headerBytes.withUnsafeMutableBytes { target in
            for line in 0..<2 {
                (target.baseAddress! + line * 64).copyMemory(
                    from: data + ((position + line * 64) & (capacity - 1)), byteCount: 64)
            }
        }
        let header: DataFrameHeader
        do {
            header = try headerBytes.withUnsafeBytes {
                try DataFrameHeader(decoding: UnsafeRawBufferPointer(rebasing: $0[0..<DataFrameHeader.size]))
            }
        } catch {
            throw corrupt("a record whose data header does not decode: \(error)")
        }
        let (magic, start, length, gapField) = headerBytes.withUnsafeBytes { raw in
            (
                UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: DataFrameHeader.size, as: UInt32.self)),
                UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: DataFrameHeader.size + 8, as: UInt64.self)),
                UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: DataFrameHeader.size + 16, as: UInt64.self)),
                UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: DataFrameHeader.size + 24, as: UInt32.self))
            )
        }
        let gap = Int(gapField)
        guard gap < 4096, gap % 64 == 0 else { throw corrupt("a record with a gap of \(gap) bytes before its payload") }
        guard magic == Self.fragmentMagic else {
            throw corrupt(
                "a record with fragment magic 0x\(String(magic, radix: 16)), expected 0x\(String(Self.fragmentMagic, radix: 16))"
            )
        }
        guard length <= UInt64(available - Self.recordHeaderBytes), start <= header.lengthBytes,
            length <= header.lengthBytes - start,
            Self.recordBytes(payload: Int(length), gap: gap) <= available
        else {
            throw corrupt(
                "a fragment of \(length) bytes at \(start) of a \(header.lengthBytes)-byte message, with \(available) bytes published"
            )
        }
        position = (position + Self.recordHeaderBytes + gap) & (capacity - 1)
        let count = Int(length)
        let firstCount = min(count, capacity - position)
        return Record(
            header: header, fragmentStart: Int(start),
            first: UnsafeRawBufferPointer(start: data + position, count: firstCount),
            second: UnsafeRawBufferPointer(start: data, count: count - firstCount),
            bytes: Self.recordBytes(payload: count, gap: gap))
    }

    /// Frees the record `next` returned.
    func consume(_ record: Record) {
        mine += UInt64(record.bytes)
        straits_store_release_u64(tail, mine)
    }
}
