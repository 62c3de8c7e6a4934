/// A dissemination barrier: in round k each rank signals the rank 2^k ahead and waits for the
/// one 2^k behind; after ⌈log2 p⌉ rounds every rank has heard, indirectly, from every other.
public enum DisseminationBarrier {
    public static func append(to schedule: inout CollectiveSchedule, group: [Int], level: Int = 0) {
        let p = group.count
        guard p > 1 else { return }
        let me = RingAllReduce.position(of: schedule.rank, in: group)
        let empty = ElementRange(offset: 0, count: 0)
        var previous: [Int] = []
        var distance = 1
        var round = 0
        while distance < p {
            let tag = MessageTag.make(.barrier, level: level, step: round, chunk: 0)
            let send = schedule.add(.send(peer: group[(me + distance) % p]), empty, tag: tag, after: previous)
            let receive = schedule.add(
                .receiveCopy(peer: group[(me - distance + p) % p]), empty, tag: tag, after: previous)
            previous = [send, receive]
            distance *= 2
            round += 1
        }
    }
}
