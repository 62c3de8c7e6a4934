/// A machine's cores as a processor-sharing resource over a clock it is given (nanoseconds):
/// jobs that each need some core-nanoseconds of work, queued per owner (one thread, or one
/// connection: an owner runs its jobs one after another), the head job of every owner running
/// at once. The cores are shared evenly among the running jobs, each job using at most its
/// `parallelism` (a copy through a socket runs on both ends' threads: 2) and what one job leaves
/// going to the others: a lone job of `w` core-nanoseconds and parallelism 1 takes `w`, and
/// more jobs than cores share them.
///
/// A pure state machine like `LinkModel`: `offer` and `advance(to:)` with the time, and the
/// same completions for the same calls.
public struct ProcessorSharing: Sendable {
    public struct Completion: Sendable, Equatable {
        public let job: Int
        public let owner: Int
        public let at: Int64
    }

    private struct Job {
        let id: Int
        var remaining: Double
        let parallelism: Double
    }

    public let cores: Double
    /// Core-nanoseconds of work done so far.
    public private(set) var workDone: Double = 0
    private var queues: [Int: [Job]] = [:]
    private var heads: [Int: Int] = [:]
    private var clock: Int64 = .min

    public init(cores: Double) {
        precondition(cores > 0)
        self.cores = cores
    }

    /// Jobs running now (one per owner with work).
    public var running: Int { queues.count }

    /// The cores each running job has (by owner): an even share, capped by its parallelism,
    /// what a capped job leaves shared by the others.
    private var rates: [Int: Double] {
        var left = cores
        var count = Double(queues.count)
        var rates: [Int: Double] = [:]
        for owner in queues.keys.sorted(by: { (head($0).parallelism, $0) < (head($1).parallelism, $1) }) {
            let rate = min(head(owner).parallelism, left / count)
            rates[owner] = rate
            left -= rate
            count -= 1
        }
        return rates
    }

    private func head(_ owner: Int) -> Job { queues[owner]![heads[owner]!] }

    /// Queues job `job` of `work` core-nanoseconds behind `owner`'s earlier jobs, at `now`.
    public mutating func offer(job: Int, owner: Int, work: Double, parallelism: Double = 1, now: Int64) {
        precondition(parallelism > 0)
        progress(to: now)
        let item = Job(id: job, remaining: max(work, 0), parallelism: parallelism)
        if queues[owner] == nil {
            queues[owner] = [item]
            heads[owner] = 0
        } else {
            queues[owner]!.append(item)
        }
    }

    /// When the next running job finishes, if nothing else is offered first.
    public var nextCompletion: Int64? {
        guard !queues.isEmpty else { return nil }
        let rates = rates
        let soonest = queues.keys.map { max(head($0).remaining, 0) / rates[$0]! }.min()!
        return clock + Int64(soonest.rounded(.up))
    }

    /// Moves on to `now` and returns the jobs finished by then, in order.
    public mutating func advance(to now: Int64) -> [Completion] {
        var done: [Completion] = []
        while let next = nextCompletion, next <= now {
            progress(to: next)
            for owner in queues.keys.sorted() {
                let head = heads[owner]!
                guard queues[owner]![head].remaining <= 0.5 else { continue }
                done.append(Completion(job: queues[owner]![head].id, owner: owner, at: next))
                if head + 1 == queues[owner]!.count {
                    queues[owner] = nil
                    heads[owner] = nil
                } else {
                    heads[owner] = head + 1
                }
            }
        }
        progress(to: now)
        return done
    }

    private mutating func progress(to now: Int64) {
        guard now > clock else { return }
        if !queues.isEmpty {
            let elapsed = Double(now - clock)
            for (owner, rate) in rates {
                queues[owner]![heads[owner]!].remaining -= elapsed * rate
                workDone += elapsed * rate
            }
        }
        clock = now
    }
}
