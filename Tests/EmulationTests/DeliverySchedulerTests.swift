import Emulation
import Testing

/// The gateway's delivery scheduling under a manual clock: a driver that does exactly what the
/// scheduler says (sleep until, spin until) finds every message due at its time, in order, with
/// the link shared fairly between flows.
@Suite("gateway delivery scheduler, manual clock")
struct DeliverySchedulerTests {
    static let millisecond: Int64 = 1_000_000

    /// Follows the scheduler's directions from `start` to `end` as a delivery thread would, with
    /// a timer that wakes exactly when asked; returns each delivery with the time it was taken.
    static func drive(
        _ scheduler: inout DeliveryScheduler, from start: Int64 = 0, to end: Int64, early: Int64 = 50_000,
        awake: ((Int64, Bool) -> Void)? = nil
    ) -> [(at: Int64, due: DeliveryScheduler.Due)] {
        let clock = ManualClock(start)
        var log: [(at: Int64, due: DeliveryScheduler.Due)] = []
        for _ in 0..<1_000_000 {
            let now = clock.now()
            guard now <= end else { break }
            let wake = scheduler.onWake(now: now, early: early)
            awake?(now, wake.keepCPUsAwake)
            log += wake.due.map { (now, $0) }
            switch wake.next {
            case nil:
                continue  // sent them on; look again at once
            case .sleep(let until, _)?:
                guard let until else { return log }
                #expect(until > now, "a sleep that does not move the clock")
                clock.advance(to: until)
            case .spin(let until)?:
                #expect(until > now && until - now <= early, "a spin longer than early")
                clock.advance(to: until)
            }
        }
        return log
    }

    static func link(holds: Bool = false, latencyMs: Double = 10) -> LinkModel {
        var link = LinkModel(spec: LinkSpec(bitsPerSecond: 8e6, latencySeconds: latencyMs / 1e3), chunkBytes: 64 << 10)
        link.receiverHolds = holds
        return link
    }

    @Test("every message goes on exactly when its link releases it, in the order each flow offered them")
    func order() {
        var scheduler = DeliveryScheduler(links: [1: Self.link(), 2: Self.link(latencyMs: 3)])
        // 1 MB/s: 100 000 bytes take 100 ms on the wire, then 10 ms (3 ms to region 2) of latency.
        for message in 0..<3 { scheduler.offer(message: message, to: 1, flow: 7, bytes: 100_000, now: 0, sentAt: nil) }
        scheduler.offer(message: 3, to: 2, flow: 8, bytes: 50_000, now: 0, sentAt: nil)
        let log = Self.drive(&scheduler, to: 400 * Self.millisecond)
        #expect(log.map(\.due.message) == [3, 0, 1, 2])
        #expect(log.map(\.due.dueAt) == [53, 110, 210, 310].map { $0 * Self.millisecond })
        #expect(log.allSatisfy { $0.at == $0.due.dueAt }, "taken late: \(log.filter { $0.at != $0.due.dueAt })")
        #expect(log.map(\.due.destination) == [2, 1, 1, 1])
        #expect(scheduler.links[1]!.counters.deliveredBytes == 300_000)
    }

    @Test("two flows on one link share it byte for byte, large messages against small")
    func fairShare() {
        var scheduler = DeliveryScheduler(links: [1: Self.link(latencyMs: 0)])
        // Flow 1: four messages of 256 KiB; flow 2: 64 of 16 KiB. Both 1 MiB, offered at once.
        var message = 0
        for _ in 0..<4 {
            scheduler.offer(message: message, to: 1, flow: 1, bytes: 256 << 10, now: 0, sentAt: nil)
            message += 1
        }
        for _ in 0..<64 {
            scheduler.offer(message: message, to: 1, flow: 2, bytes: 16 << 10, now: 0, sentAt: nil)
            message += 1
        }
        var flows: [Int: Int] = [:]
        let log = Self.drive(&scheduler, to: 3_000 * Self.millisecond)
        #expect(log.count == 68 && log.allSatisfy { $0.at == $0.due.dueAt })
        // Once the link has carried 1 MiB (at 1 MB/s, after 1.048576 s), each flow has had half
        // of it, give or take a chunk.
        for entry in log where entry.at <= 1_048_576_000 {
            flows[entry.due.message < 4 ? 1 : 2, default: 0] += entry.due.message < 4 ? 256 << 10 : 16 << 10
        }
        #expect(abs((flows[2] ?? 0) - (512 << 10)) <= 64 << 10, "flow 2 had \(flows[2] ?? 0) bytes")
        // Flow 1's large messages arrive whole, so it has delivered whole messages only, the
        // rest being on the wire: at least one of them by then.
        #expect((flows[1] ?? 0) >= 256 << 10)
        // Both flows end together, when the link has carried all 2 MiB.
        let last = log.map(\.due.dueAt).max() ?? 0
        #expect(last == 2_097_152_000, "last delivery at \(last) ns")
    }

    @Test("a receiver that holds messages gets each as soon as it is settled; CPUs are kept awake until it arrives")
    func receiverHolds() {
        var scheduler = DeliveryScheduler(links: [1: Self.link(holds: true, latencyMs: 50)])
        scheduler.offer(message: 0, to: 1, flow: 1, bytes: 10_000, now: 0, sentAt: nil)
        var awake: [(Int64, Bool)] = []
        let log = Self.drive(&scheduler, to: 100 * Self.millisecond) { awake.append(($0, $1)) }
        // Released at once (its whole path is settled), arriving after 10 ms on the wire and 50 ms.
        #expect(log.count == 1 && log[0].at == 0 && log[0].due.arrivesAt == 60 * Self.millisecond)
        // Awake until 2 ms after it arrives, then not: the thread slept straight there (no spin).
        #expect(awake.map(\.0) == [0, 0, 62 * Self.millisecond])
        #expect(awake.map(\.1) == [true, true, false])
        #expect(scheduler.heldUntil == 62 * Self.millisecond)
    }

    @Test("a delivery is approached by halves, then the last stretch spun")
    func approach() {
        var scheduler = DeliveryScheduler(links: [1: Self.link(latencyMs: 0)])
        // 8 000 bytes: 8 ms on the wire.
        scheduler.offer(message: 0, to: 1, flow: 1, bytes: 8_000, now: 0, sentAt: nil)
        var wakes: [Int64] = []
        let log = Self.drive(&scheduler, to: 20 * Self.millisecond, early: 100_000) { now, _ in wakes.append(now) }
        #expect(log.count == 1 && log[0].at == 8 * Self.millisecond)
        // 7.9 ms to the wake-up target: halves of what is left, the last under 250 µs, then the spin.
        #expect(wakes.prefix(4) == [0, 3_950_000, 5_925_000, 6_912_500])
        #expect(wakes.contains(7_900_000) && wakes.last == 8 * Self.millisecond)
    }

    @Test("a full link frees its ingress once it drains below its bound")
    func backPressure() {
        var link = Self.link(latencyMs: 0)
        link = LinkModel(spec: link.spec, chunkBytes: 64 << 10, queueLimitBytes: 100_000)
        var scheduler = DeliveryScheduler(links: [1: link])
        scheduler.offer(message: 0, to: 1, flow: 1, bytes: 150_000, now: 0, sentAt: nil)
        #expect(!scheduler.canAccept(1))
        #expect(!scheduler.canAccept(5))
        var freedAt: Int64?
        let clock = ManualClock()
        for _ in 0..<100 {
            let wake = scheduler.onWake(now: clock.now(), early: 50_000)
            if wake.freed { freedAt = clock.now() }
            guard case .sleep(let until?, _)? = wake.next else { break }
            clock.advance(to: until)
            if freedAt != nil { break }
        }
        #expect(freedAt != nil && scheduler.canAccept(1))
    }
}
