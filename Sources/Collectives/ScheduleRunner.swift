/// Walks a `CollectiveSchedule` as events come in, and says what to do next.
///
/// The runner does no I/O. The transport shell feeds it three kinds of event (start, a message
/// arrived, an operation completed) and performs the directives it returns:
/// - `.send(op)`: send the range now; report `completed(op.id)` once the bytes are released.
/// - `.receive(op)`: the message for `op` is in hand and `op` may run: reduce or copy it into
///   the range, then report `completed(op.id)`.
/// A message that arrives before its operation may run is held by the shell until the runner
/// names it in a `.receive`.
public struct ScheduleRunner: Sendable {
    public enum Directive: Hashable, Sendable {
        case send(CollectiveSchedule.Operation)
        case receive(CollectiveSchedule.Operation)
    }

    /// A message whose schedule has no receive for it.
    public struct UnexpectedMessage: Error, CustomStringConvertible, Sendable {
        public let rank: Int
        public let peer: Int
        public let tag: UInt64
        public var description: String { "rank \(rank): unexpected message from rank \(peer) with tag \(tag)" }
    }

    public let schedule: CollectiveSchedule
    private var waitingOn: [Int]
    private var dependents: [[Int]]
    private var receiveFor: [MessageKey: Int] = [:]
    /// Receives whose dependencies are met but whose message has not arrived.
    private var readyReceives: Set<Int> = []
    /// Messages that arrived before their receive could run.
    private var heldMessages: Set<Int> = []
    private var arrived: Set<Int> = []
    private var completedCount = 0
    private var started = false

    struct MessageKey: Hashable, Sendable {
        let peer: Int
        let tag: UInt64
    }

    public init(_ schedule: CollectiveSchedule) {
        self.schedule = schedule
        waitingOn = schedule.operations.map(\.dependencies.count)
        dependents = Array(repeating: [], count: schedule.operations.count)
        for operation in schedule.operations {
            for dependency in operation.dependencies { dependents[dependency].append(operation.id) }
            if !operation.kind.isSend {
                let key = MessageKey(peer: operation.kind.peer, tag: operation.tag)
                precondition(
                    receiveFor[key] == nil, "rank \(schedule.rank): two receives from \(key.peer) with tag \(key.tag)")
                receiveFor[key] = operation.id
            }
        }
    }

    /// Whether every operation has completed.
    public var isFinished: Bool { completedCount == schedule.operations.count }

    /// Operations not yet completed, for error messages.
    public var pendingDescription: String {
        let waiting = readyReceives.sorted().prefix(4).map { schedule.operations[$0] }
        return "\(schedule.operations.count - completedCount) of \(schedule.operations.count) operations pending; "
            + "waiting for messages: " + (waiting.isEmpty ? "none" : waiting.map(\.description).joined(separator: ", "))
    }

    /// The directives for the operations that depend on nothing.
    public mutating func start() -> [Directive] {
        precondition(!started, "a schedule runner starts once")
        started = true
        var directives: [Directive] = []
        for operation in schedule.operations where operation.dependencies.isEmpty {
            becameReady(operation.id, into: &directives)
        }
        return directives
    }

    /// The receive a message from `peer` with `tag` would be for, if one is still to come.
    public func expectedReceive(from peer: Int, tag: UInt64) -> CollectiveSchedule.Operation? {
        guard let id = receiveFor[MessageKey(peer: peer, tag: tag)], !arrived.contains(id) else { return nil }
        return schedule.operations[id]
    }

    /// Whether receive `id` may run as soon as its message is in hand (its dependencies are met
    /// and its message has not arrived): a transport can then apply the message as it comes.
    public func isReady(_ id: Int) -> Bool { readyReceives.contains(id) }

    /// A message from `peer` with `tag` arrived. Returns `.receive` if its operation may run now;
    /// otherwise the shell holds the message until a later directive names it.
    public mutating func messageArrived(from peer: Int, tag: UInt64) throws(UnexpectedMessage) -> [Directive] {
        guard let id = receiveFor[MessageKey(peer: peer, tag: tag)], !arrived.contains(id) else {
            throw UnexpectedMessage(rank: schedule.rank, peer: peer, tag: tag)
        }
        arrived.insert(id)
        if readyReceives.remove(id) != nil { return [.receive(schedule.operations[id])] }
        heldMessages.insert(id)
        return []
    }

    /// Operation `id` completed (a send's bytes were released, or a receive was applied).
    public mutating func completed(_ id: Int) -> [Directive] {
        completedCount += 1
        var directives: [Directive] = []
        for dependent in dependents[id] {
            waitingOn[dependent] -= 1
            if waitingOn[dependent] == 0 { becameReady(dependent, into: &directives) }
        }
        return directives
    }

    private mutating func becameReady(_ id: Int, into directives: inout [Directive]) {
        let operation = schedule.operations[id]
        if operation.kind.isSend {
            directives.append(.send(operation))
        } else if heldMessages.remove(id) != nil {
            directives.append(.receive(operation))
        } else {
            readyReceives.insert(id)
        }
    }
}
