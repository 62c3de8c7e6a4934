/// The recent wake-up overshoots of a thread's timed waits, and how early it should wake
/// because of them: a thread that must act at a given moment sleeps until `early` before it and
/// spins on the clock for the rest, so its timer's lateness costs a short spin, not lateness.
///
/// `early` is a percentile of the last 128 overshoots plus 10 µs, 20 µs at least and 300 µs at
/// most (a thread must not hold a core for long): the 99th for one thread (a precise host then
/// spins a few tens of microseconds, a virtual machine a little more); a lower one where several
/// threads race to the same moment, since it is late only when all of them are.
public struct OvershootWindow: Sendable {
    public init() {}

    private var samples = [Int64](repeating: 50_000, count: 128)
    private var next = 0
    public private(set) var early: Int64 = 100_000
    public var percentile = 99

    public static let floor: Int64 = 20_000
    public static let ceiling: Int64 = 300_000

    /// The longest sleep aimed straight at a moment: a timer wakes a core that went idle later
    /// the longer it slept (a virtual machine here: p99 ~25 µs after 200 µs, ~120 µs after 1 ms,
    /// ~650 µs after 5 ms), so a thread approaches a moment in sleeps that each cover half of
    /// what is left, and only the last, under this, aims at the moment less `early`.
    public static let finalSleep: Int64 = 250_000

    /// How near an arrival a waiting rank's wake-ups are at real-time priority after it held
    /// the message longer than this: the last few sleeps of the approach, each of which a late
    /// wake-up at normal priority can carry past the arrival.
    public static let nearArrival: Int64 = 4_000_000

    /// The next wake-up on the way from `now` to `target`, and whether it is the final one (whose
    /// overshoot is what `record` is given).
    public static func approach(from now: Int64, to target: Int64) -> (wake: Int64, final: Bool) {
        target - now <= finalSleep ? (target, true) : (now + (target - now) / 2, false)
    }

    public mutating func record(_ nanoseconds: Int64) {
        samples[next] = nanoseconds
        next = (next + 1) % samples.count
        if next % 16 == 0 {
            let sorted = samples.sorted()
            early = min(max(sorted[sorted.count * percentile / 100] + 10_000, Self.floor), Self.ceiling)
        }
    }
}
