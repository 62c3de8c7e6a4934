import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A source of monotonic time in nanoseconds. Every process reads one `SystemClock`; the cores
/// (`LinkModel`, `DeliveryScheduler`, the coordinator's membership) never read a clock at all:
/// they are handed `now`, so tests drive them with a `ManualClock`.
public protocol MonotonicClock: Sendable {
    /// Nanoseconds since an arbitrary fixed origin; never decreases.
    func now() -> Int64
}

/// `CLOCK_MONOTONIC`: the clock that every process on one machine shares, so a gateway's arrival
/// times mean the same to the ranks on that machine.
public struct SystemClock: MonotonicClock {
    public init() {}

    @inline(__always)
    public func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    /// The shared instance (the clock has no state).
    public static let shared = SystemClock()
}

/// A clock that moves only when told to, for tests of the cores.
public final class ManualClock: MonotonicClock {
    private let nanoseconds: Mutex<Int64>

    public init(_ start: Int64 = 0) {
        nanoseconds = Mutex(start)
    }

    public func now() -> Int64 {
        nanoseconds.withLock { $0 }
    }

    /// Moves the clock forward by `step` nanoseconds (never back).
    public func advance(by step: Int64) {
        precondition(step >= 0, "a monotonic clock does not go back")
        nanoseconds.withLock { $0 += step }
    }

    /// Moves the clock to `instant`, which must not be before now.
    public func advance(to instant: Int64) {
        nanoseconds.withLock {
            precondition(instant >= $0, "a monotonic clock does not go back")
            $0 = instant
        }
    }
}
