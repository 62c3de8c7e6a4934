import CStraitsShims
import Foundation

/// How a rank's own thread waits for its peers (`FragmentExecutor`, `HostAllReduce`): it polls
/// first, as Open MPI's progress loop does, since a futex wake-up of a thread on an idle core
/// took 100–300 µs here; then it sleeps on its bell in slices, until the deadline.
enum RankWait {
    /// Polls `done` for `spin`; whether it came true. A rank yields the core at every turn where
    /// ranks share cores (`yields`), so that the peer it waits for gets to run, and now and then
    /// where it has a core of its own, to whatever else is due there (its process's libzmq I/O
    /// thread, say).
    static func spin(for spin: Duration, yields: Bool, until done: () throws -> Bool) rethrows -> Bool {
        let spinUntil = ContinuousClock.now + spin
        var turns = 0
        while ContinuousClock.now < spinUntil {
            if try done() { return true }
            turns += 1
            if yields || turns % 64 == 0 { sched_yield() } else { straits_cpu_relax() }
        }
        return false
    }

    /// The next sleep before `deadline`: what is left of it, at most 10 ms; nil once it has passed.
    static func sleepNanoseconds(before deadline: ContinuousClock.Instant) -> Int64? {
        let remaining = deadline - .now
        guard remaining > .zero else { return nil }
        return min(Int64(remaining.inSeconds * 1e9), 10_000_000)
    }
}
