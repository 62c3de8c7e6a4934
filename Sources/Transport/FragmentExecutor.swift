import Collectives
import Foundation
import StraitsWire

/// Carries out one rank's `CollectiveSchedule` over a `FragmentPlane`, on the rank's thread.
///
/// A send goes out as the plane makes room for it (fragments copied into a ring, or bytes
/// written to a socket straight from the buffer); it completes when the plane has all of it, and
/// the buffer's range is free again at once. A piece whose receive may run is reduced (or
/// copied) straight into the buffer as it arrives, so the receiver works on one piece while the
/// sender sends the next; a message whose receive may not run yet is assembled in memory and
/// applied when it may. With nothing to do the rank polls for `spin`, then sleeps until a peer
/// wakes it or the deadline passes. Every piece is checked like a socket's bytes.
public struct FragmentExecutor<Plane: FragmentPlane> {
    private struct Key: Hashable {
        let peer: Int
        let tag: UInt64
    }

    /// A message kept in memory until its receive may run. One of `mappedBytes` or more has
    /// pages of its own (`mmap`), given back when it is applied: from the allocator's heaps, the
    /// freed messages of a sweep's many sizes stayed resident (a 64 MiB bench over shm at P = 2
    /// kept 61 MiB there, where at most 32 MiB was held at once, and peaked at 251 MiB of RSS).
    private final class Assembly {
        static var mappedBytes: Int { 1 << 20 }
        let storage: UnsafeMutableRawPointer
        let length: Int
        private let mapped: Bool
        var received = 0
        init(length: Int, from peer: Int) throws {
            self.length = length
            mapped = length >= Self.mappedBytes
            if mapped {
                let memory = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                guard let memory, memory != MAP_FAILED else {
                    throw RuntimeError(
                        .system,
                        "cannot map \(length) bytes to hold a message from rank \(peer) until its receive may run: \(String(cString: strerror(errno)))"
                    )
                }
                storage = memory
            } else {
                storage = .allocate(byteCount: max(length, 1), alignment: 64)
            }
        }
        deinit {
            if mapped { munmap(storage, length) } else { storage.deallocate() }
        }
    }

    private struct PendingSend {
        let operation: CollectiveSchedule.Operation
        var sent: Int
    }

    private let plane: Plane
    private let buffer: UnsafeMutableRawPointer
    private let elementCount: Int
    private let collectiveID: UInt64
    private let step: UInt64
    private let timeout: Duration
    private let deadline: ContinuousClock.Instant
    private var runner: ScheduleRunner
    private var work: [ScheduleRunner.Directive] = []
    /// Bytes of a message applied so far, by message, while its fragments stream into the buffer.
    private var streaming: [Key: Int] = [:]
    private var assembling: [Key: Assembly] = [:]
    private var assembled: [Key: Assembly] = [:]
    /// Sends the plane does not yet hold whole, by peer.
    private var sends: [[PendingSend]]

    /// Runs `schedule` on the float32 elements at `buffer`. Throws if a peer writes something
    /// malformed or the deadline passes.
    public static func run(
        _ schedule: CollectiveSchedule, buffer: UnsafeMutableRawPointer, elementCount: Int,
        on plane: Plane, collectiveID: UInt64, step: UInt64 = 0, timeout: Duration
    ) throws {
        var executor = FragmentExecutor(
            plane: plane, buffer: buffer, elementCount: elementCount, collectiveID: collectiveID, step: step,
            timeout: timeout, deadline: .now + timeout, runner: ScheduleRunner(schedule))
        try executor.run()
    }

    private init(
        plane: Plane, buffer: UnsafeMutableRawPointer, elementCount: Int, collectiveID: UInt64,
        step: UInt64, timeout: Duration, deadline: ContinuousClock.Instant, runner: ScheduleRunner
    ) {
        self.plane = plane
        self.buffer = buffer
        self.elementCount = elementCount
        self.collectiveID = collectiveID
        self.step = step
        self.timeout = timeout
        self.deadline = deadline
        self.runner = runner
        sends = Array(repeating: [], count: runner.schedule.ranks)
    }

    private mutating func run() throws {
        work = runner.start()
        let stale = plane.early.drop(before: collectiveID)
        if stale > 0 {
            plane.reject("\(stale) pieces kept for collectives before \(collectiveID), which will not run here")
        }
        for piece in plane.early.take(collectiveID) {
            try piece.bytes.withUnsafeBytes { bytes in
                try file(
                    Fragment(
                        peer: piece.peer, header: piece.header, start: piece.start, first: bytes,
                        second: UnsafeRawBufferPointer(start: nil, count: 0)))
            }
        }
        while true {
            while let directive = work.popLast() {
                switch directive {
                case .send(let operation):
                    precondition(
                        operation.range.end <= elementCount, "send of \(operation.range) beyond \(elementCount)")
                    sends[operation.kind.peer].append(PendingSend(operation: operation, sent: 0))
                case .receive(let operation):
                    let key = Key(peer: operation.kind.peer, tag: operation.tag)
                    guard let message = assembled.removeValue(forKey: key) else {
                        throw RuntimeError(
                            .protocolViolation, "rank \(plane.rank): \(operation) is ready but its message is missing")
                    }
                    apply(operation, at: 0, UnsafeRawBufferPointer(start: message.storage, count: message.length))
                    work += runner.completed(operation.id)
                }
            }
            var progressed = try pumpSends()
            progressed = try pumpReceives() || progressed
            if !work.isEmpty || progressed { continue }
            if runner.isFinished { return }
            try wait()
        }
    }

    /// Writes what can go of each peer's pending sends; whether anything was written.
    private mutating func pumpSends() throws -> Bool {
        var progressed = false
        for peer in sends.indices where !sends[peer].isEmpty {
            while let operation = sends[peer].first?.operation {
                var header = DataFrameHeader(
                    sourceRank: UInt32(plane.rank), step: step, collectiveID: collectiveID, tag: operation.tag,
                    offsetBytes: UInt64(operation.range.offset * 4), lengthBytes: UInt64(operation.range.count * 4))
                header.epoch = plane.epoch
                var sent = sends[peer][0].sent
                let complete = try plane.write(
                    to: peer, header: header,
                    payload: UnsafeRawBufferPointer(
                        start: buffer + operation.range.offset * 4, count: operation.range.count * 4),
                    sent: &sent)
                if sent != sends[peer][0].sent { progressed = true }
                sends[peer][0].sent = sent
                guard complete else { break }
                sends[peer].removeFirst()
                work += runner.completed(operation.id)
                progressed = true
            }
        }
        if progressed { try plane.flush() }
        return progressed
    }

    /// Takes every piece that has arrived; whether anything did.
    private mutating func pumpReceives() throws -> Bool {
        try plane.poll { fragment in
            if fragment.header.collectiveID > collectiveID && fragment.header.epoch == plane.epoch {
                if !plane.early.keep(fragment) {
                    plane.reject(
                        "a piece from rank \(fragment.peer) for collective \(fragment.header.collectiveID) while running \(collectiveID): the store of early pieces is full"
                    )
                }
            } else {
                try file(fragment)
            }
        }
    }

    /// Applies or keeps one piece of the current collective (or drops it, saying why).
    private mutating func file(_ fragment: Fragment) throws {
        let (header, fragmentStart, peer) = (fragment.header, fragment.start, fragment.peer)
        let (first, second) = (fragment.first, fragment.second)
        guard header.epoch == plane.epoch else {
            plane.reject(
                "a piece from rank \(peer) of membership epoch \(header.epoch) (this rank runs \(plane.epoch))")
            return
        }
        guard Int(header.sourceRank) == peer else {
            plane.reject("a piece from rank \(peer) claims to come from rank \(header.sourceRank)")
            return
        }
        guard header.collectiveID == collectiveID else {
            plane.reject(
                "a piece from rank \(peer) belongs to collective \(header.collectiveID), which already finished here (now running \(collectiveID))"
            )
            return
        }
        let key = Key(peer: peer, tag: header.tag)
        let count = first.count + second.count
        let done = streaming[key] ?? assembling[key]?.received ?? 0
        guard let operation = runner.expectedReceive(from: peer, tag: header.tag),
            header.dtype == .float32, header.offsetBytes == UInt64(operation.range.offset * 4),
            header.lengthBytes == UInt64(operation.range.count * 4), fragmentStart == done
        else {
            plane.reject(
                "a piece from rank \(peer) tag \(header.tag): \(header.lengthBytes) bytes at offset \(header.offsetBytes), fragment at \(fragmentStart) (\(done) received), is not a message this rank expects"
            )
            return
        }
        let length = operation.range.count * 4
        if streaming[key] != nil || (done == 0 && runner.isReady(operation.id)) {
            apply(operation, at: fragmentStart, first)
            apply(operation, at: fragmentStart + first.count, second)
            streaming[key] = done + count
            if done + count == length {
                streaming[key] = nil
                _ = try runner.messageArrived(from: peer, tag: header.tag)
                work += runner.completed(operation.id)
            }
            return
        }
        let assembly = try assembling[key] ?? Assembly(length: length, from: peer)
        assembling[key] = assembly
        fragment.copyBytes(to: assembly.storage + done)
        assembly.received += count
        if assembly.received == length {
            assembling[key] = nil
            assembled[key] = assembly
            work += try runner.messageArrived(from: peer, tag: header.tag)
        }
    }

    /// Reduces or copies `payload` into the operation's range, `at` bytes in.
    private func apply(_ operation: CollectiveSchedule.Operation, at offset: Int, _ payload: UnsafeRawBufferPointer) {
        guard payload.count > 0 else { return }
        let target = buffer + operation.range.offset * 4 + offset
        if case .receiveReduce = operation.kind {
            ReductionKernel.sum(into: target, from: payload.baseAddress!, count: payload.count / 4)
        } else {
            target.copyMemory(from: payload.baseAddress!, byteCount: payload.count)
        }
    }

    /// Polls for `spin`, then sleeps on the bell; throws at the deadline.
    private mutating func wait() throws {
        if try RankWait.spin(
            for: plane.spin, yields: plane.yieldsWhileSpinning, until: { try pumpReceives() || pumpSends() })
        {
            return
        }
        guard let nanoseconds = RankWait.sleepNanoseconds(before: deadline) else {
            throw RuntimeError(
                .timedOut,
                "rank \(plane.rank): collective \(collectiveID) timed out after \(timeout): \(runner.pendingDescription)"
            )
        }
        try plane.sleep(nanoseconds: nanoseconds) { try pumpReceives() || pumpSends() }
    }
}
