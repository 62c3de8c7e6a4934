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
/// times mean the same to the ranks on that machine. Processes on other hosts read other clocks:
/// they measure their offset to the coordinator's (`ClockOffsetEstimate`) and convert.
public struct SystemClock: MonotonicClock {
    public init() {}

    /// Nanoseconds added to every reading in this process: 0, except where a test makes a process
    /// read its clock as another host's would (`--clock-offset-s`). Set before any thread reads.
    public static let injectedOffset = Atomic<Int64>(0)

    @inline(__always)
    public func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
            + Self.injectedOffset.load(ordering: .relaxed)
    }

    /// A reading of this clock as CLOCK_MONOTONIC itself, for the kernel's timers (timerfd).
    public static func kernelTime(_ reading: Int64) -> Int64 {
        reading - injectedOffset.load(ordering: .relaxed)
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

/// This process's clock against the coordinator's, from ping-pongs (NTP's arithmetic): a probe
/// leaves at `sent` on this clock, the coordinator stamps `reply` on its own as it answers, and
/// the answer is back at `received`. The sample with the shortest round trip is kept; its offset
/// is `reply − (sent + received) / 2`, wrong by at most half that round trip (by half the
/// difference between the two directions' delays).
public struct ClockOffsetEstimate: Sendable, Equatable {
    /// Coordinator time minus this clock's, nanoseconds.
    public private(set) var offset: Int64 = 0
    /// The kept sample's round trip, nanoseconds (`Int64.max` before any sample).
    public private(set) var roundTrip = Int64.max
    public private(set) var samples = 0

    public init() {}

    /// Takes one exchange; a sample whose times are out of order (a reply before its probe) is
    /// ignored.
    public mutating func add(sent: Int64, reply: Int64, received: Int64) {
        guard received >= sent else { return }
        samples += 1
        let trip = received - sent
        guard trip < roundTrip else { return }
        roundTrip = trip
        // Wrapping: `reply` comes off the network and may be anything.
        offset = reply &- (sent / 2 + received / 2 + (sent % 2 + received % 2) / 2)
    }

    /// At most this far from the true offset, nanoseconds (half the best round trip).
    public var errorBound: Int64 { roundTrip == Int64.max ? Int64.max : roundTrip / 2 }
}
