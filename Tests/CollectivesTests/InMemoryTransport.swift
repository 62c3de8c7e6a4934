@testable import Collectives

/// SplitMix64: a small seeded generator, so every randomised run can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A deterministic in-memory transport for schedules: every rank's buffer lives at a chosen
/// byte misalignment, messages and send releases are delivered in a random (seeded) order, and
/// reductions go through the real `ReductionKernel`. It checks the zero-copy contract too: a
/// range being sent must not change before its send is released.
struct InMemoryTransport {
    struct Message {
        let from: Int
        let to: Int
        let tag: UInt64
        let payload: [Float]
    }

    struct PendingRelease {
        let rank: Int
        let operation: CollectiveSchedule.Operation
        let snapshot: [Float]
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let ranks: Int
    let elementCount: Int
    let misalignment: Int
    /// Raw storage per rank; the rank's floats start `misalignment` bytes in.
    var storage: [UnsafeMutableRawPointer]
    var messagesSent = 0

    init(ranks: Int, elementCount: Int, misalignment: Int, fill: (Int, Int) -> Float) {
        self.ranks = ranks
        self.elementCount = elementCount
        self.misalignment = misalignment
        storage = (0..<ranks).map { rank in
            let raw = UnsafeMutableRawPointer.allocate(byteCount: elementCount * 4 + 16, alignment: 64)
            for index in 0..<elementCount {
                (raw + misalignment).storeBytes(of: fill(rank, index), toByteOffset: index * 4, as: Float.self)
            }
            return raw
        }
    }

    func release() {
        for raw in storage { raw.deallocate() }
    }

    func base(_ rank: Int) -> UnsafeMutableRawPointer { storage[rank] + misalignment }

    func read(_ rank: Int, _ range: ElementRange) -> [Float] {
        [Float](unsafeUninitializedCapacity: range.count) { buffer, initialized in
            if range.count > 0 {
                UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(
                    from: base(rank) + range.offset * 4, byteCount: range.count * 4)
            }
            initialized = range.count
        }
    }

    func element(_ rank: Int, _ index: Int) -> Float {
        base(rank).loadUnaligned(fromByteOffset: index * 4, as: Float.self)
    }

    /// Runs one schedule per rank to completion, delivering events in a random order.
    mutating func run(_ schedules: [CollectiveSchedule], seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        var runners = schedules.map(ScheduleRunner.init)
        var inFlight: [Message] = []
        var releases: [PendingRelease] = []
        var held: [Int: [Key: [Float]]] = [:]  // rank → (peer, tag) → payload

        struct Key: Hashable {
            let peer: Int
            let tag: UInt64
        }
        func key(_ peer: Int, _ tag: UInt64) -> Key { Key(peer: peer, tag: tag) }

        func perform(_ rank: Int, _ directives: [ScheduleRunner.Directive]) throws {
            var work = directives
            while let directive = work.popLast() {
                switch directive {
                case .send(let operation):
                    let payload = read(rank, operation.range)
                    inFlight.append(Message(from: rank, to: operation.kind.peer, tag: operation.tag, payload: payload))
                    releases.append(PendingRelease(rank: rank, operation: operation, snapshot: payload))
                    messagesSent += 1
                case .receive(let operation):
                    guard let payload = held[rank]?.removeValue(forKey: key(operation.kind.peer, operation.tag)) else {
                        throw Failure(description: "rank \(rank): \(operation) ran without its message")
                    }
                    guard payload.count == operation.range.count else {
                        throw Failure(description: "rank \(rank): \(operation) got \(payload.count) elements")
                    }
                    let target = base(rank) + operation.range.offset * 4
                    payload.withUnsafeBytes { bytes in
                        if case .receiveReduce = operation.kind {
                            ReductionKernel.sum(into: target, from: bytes.baseAddress!, count: payload.count)
                        } else if !payload.isEmpty {
                            target.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                        }
                    }
                    work += runners[rank].completed(operation.id)
                }
            }
        }

        for rank in 0..<ranks { try perform(rank, runners[rank].start()) }
        while !inFlight.isEmpty || !releases.isEmpty {
            let pick = Int.random(in: 0..<(inFlight.count + releases.count), using: &generator)
            if pick < inFlight.count {
                inFlight.swapAt(pick, inFlight.count - 1)
                let message = inFlight.removeLast()
                held[message.to, default: [:]][key(message.from, message.tag)] = message.payload
                try perform(message.to, runners[message.to].messageArrived(from: message.from, tag: message.tag))
            } else {
                releases.swapAt(pick - inFlight.count, releases.count - 1)
                let pending = releases.removeLast()
                guard read(pending.rank, pending.operation.range) == pending.snapshot else {
                    throw Failure(
                        description:
                            "rank \(pending.rank): \(pending.operation) range changed before its send was released")
                }
                try perform(pending.rank, runners[pending.rank].completed(pending.operation.id))
            }
        }
        for (rank, runner) in runners.enumerated() where !runner.isFinished {
            throw Failure(description: "rank \(rank) stuck: \(runner.pendingDescription)")
        }
    }
}
