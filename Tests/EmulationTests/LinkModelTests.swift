import Emulation
import Testing

/// The link model under a manual clock: every time is exact, in nanoseconds.
@Suite("link model, manual clock")
struct LinkModelTests {
    static let second: Int64 = 1_000_000_000
    static let millisecond: Int64 = 1_000_000

    /// Advances in steps of `step` until `until`, collecting deliveries.
    static func run(_ link: inout LinkModel, from: Int64 = 0, until: Int64, step: Int64 = 1_000_000) -> [LinkModel
        .Delivery]
    {
        var deliveries: [LinkModel.Delivery] = []
        var now = from
        while now <= until {
            deliveries += link.advance(to: now)
            now += step
        }
        return deliveries
    }

    @Test("TCP/IPv4/Ethernet framing: 66 bytes of headers on every 1448 bytes or part of them")
    func framing() {
        let framing = LinkSpec.Framing.tcpEthernet
        #expect(
            framing.wireBytes(0) == 0 && framing.wireBytes(1) == 67 && framing.wireBytes(1448) == 1514
                && framing.wireBytes(1449) == 1581)
        #expect(LinkSpec.Framing.none.wireBytes(1449) == 1449)
        // 8 Mbit/s: a chunk of 14 480 bytes (ten full segments) takes 15 140 µs on the wire, so
        // two chunks of one message are delivered 30 280 µs after it is offered, plus latency.
        var link = LinkModel(
            spec: LinkSpec(bitsPerSecond: 8e6, latencySeconds: 0.001, framing: framing), chunkBytes: 14_480)
        link.offer(message: 1, flow: 0, bytes: 28_960, now: 0)
        let due = 30_280_000 + Self.millisecond
        #expect(link.advance(to: due - 1).isEmpty)
        #expect(link.advance(to: due).map(\.dueAt) == [due])
        #expect(link.counters.busy == 30_280_000 && link.counters.deliveredBytes == 28_960)
    }

    @Test("one message: serialised at the bandwidth, delivered one latency after its last byte")
    func oneMessage() {
        // 8 Mbit/s = 1 MB/s: 1 000 000 bytes take exactly one second.
        var link = LinkModel(spec: LinkSpec(bitsPerSecond: 8e6, latencySeconds: 0.010), chunkBytes: 65536)
        link.offer(message: 1, flow: 0, bytes: 1_000_000, now: 0)
        #expect(link.nextEvent == 0)
        #expect(link.advance(to: Self.second + 10 * Self.millisecond - 1).isEmpty)
        let deliveries = link.advance(to: Self.second + 10 * Self.millisecond)
        #expect(deliveries.count == 1)
        #expect(
            deliveries.first?.message == 1 && deliveries.first?.bytes == 1_000_000 && deliveries.first?.queueDelay == 0)
        #expect(deliveries.first?.dueAt == Self.second + 10 * Self.millisecond)
        #expect(link.counters.busy == Self.second)
        #expect(link.counters.deliveredBytes == 1_000_000 && link.queuedBytes == 0 && link.nextEvent == nil)
    }

    @Test(
        "a dark link starts no chunk: what is on the wire arrives, the rest waits for the link to come back; a degraded link serialises at its new bandwidth from then on"
    )
    func faults() {
        // 8 Mbit/s = 1 MB/s, chunks of 100 000 bytes (0.1 s each), 10 ms latency.
        var link = LinkModel(
            spec: LinkSpec(bitsPerSecond: 8e6, latencySeconds: 0.010, framing: .none), chunkBytes: 100_000)
        link.offer(message: 1, flow: 0, bytes: 300_000, now: 0)
        _ = link.advance(to: 50 * Self.millisecond)  // the first chunk is on the wire
        link.setDown(true, now: 50 * Self.millisecond)
        #expect(link.down && link.nextChunkStart == nil)
        // Down for a second: nothing more starts, nothing arrives.
        #expect(Self.run(&link, from: 50 * Self.millisecond, until: 1050 * Self.millisecond).isEmpty)
        link.setDown(false, now: 1050 * Self.millisecond)
        #expect(link.nextChunkStart == 1050 * Self.millisecond)
        // The other two chunks take 0.2 s from the moment it is back, then the latency.
        let back = Self.run(&link, from: 1050 * Self.millisecond, until: 2 * Self.second)
        #expect(back.map(\.dueAt) == [1260 * Self.millisecond], "\(back)")

        // Degraded to 4 Mbit/s: a message of 100 000 bytes takes 0.2 s instead of 0.1 s.
        link.setSpec(LinkSpec(bitsPerSecond: 4e6, latencySeconds: 0.010, framing: .none))
        link.offer(message: 2, flow: 0, bytes: 100_000, now: 3 * Self.second)
        let slow = Self.run(&link, from: 3 * Self.second, until: 4 * Self.second)
        #expect(slow.map(\.dueAt) == [3210 * Self.millisecond])
    }

    @Test("the result does not depend on how often the clock is read")
    func clockIndependence() {
        func deliveries(step: Int64) -> [LinkModel.Delivery] {
            var link = LinkModel(
                spec: LinkSpec(bitsPerSecond: 1e8, latencySeconds: 0.02, jitterSeconds: 0.001), chunkBytes: 4096,
                seed: 7)
            var result: [LinkModel.Delivery] = []
            for message in 0..<20 {
                result += link.advance(to: Int64(message) * 3 * Self.millisecond)
                link.offer(
                    message: message, flow: message % 3, bytes: 10_000 + message * 1000,
                    now: Int64(message) * 3 * Self.millisecond)
            }
            return result + Self.run(&link, from: 60 * Self.millisecond, until: 2 * Self.second, step: step)
        }
        let fine = deliveries(step: 1000)
        #expect(fine.count == 20)
        #expect(deliveries(step: 777_777) == fine)
        #expect(deliveries(step: 50 * Self.millisecond) == fine)
    }

    @Test("two flows offered together each get half the link")
    func fairShare() {
        var link = LinkModel(spec: LinkSpec(bitsPerSecond: 8e6, latencySeconds: 0), chunkBytes: 10_000)
        link.offer(message: 1, flow: 1, bytes: 1_000_000, now: 0)
        link.offer(message: 2, flow: 2, bytes: 1_000_000, now: 0)
        let deliveries = Self.run(&link, until: 3 * Self.second)
        #expect(deliveries.map(\.message) == [1, 2])
        // Chunks alternate: flow 1 finishes one chunk (10 ms) before flow 2, both at about 2 s.
        #expect(deliveries[0].dueAt == 2 * Self.second - 10 * Self.millisecond)
        #expect(deliveries[1].dueAt == 2 * Self.second)
    }

    @Test("a flow of many small messages and one of a large message share evenly")
    func fairShareMixedSizes() {
        var link = LinkModel(spec: LinkSpec(bitsPerSecond: 8e6, latencySeconds: 0), chunkBytes: 10_000)
        link.offer(message: 0, flow: 0, bytes: 1_000_000, now: 0)
        for message in 1...100 { link.offer(message: message, flow: 1, bytes: 10_000, now: 0) }
        let deliveries = Self.run(&link, until: 3 * Self.second)
        let smallDone = deliveries.filter { $0.flow == 1 }.map(\.dueAt).max()!
        let largeDone = deliveries.first { $0.flow == 0 }!.dueAt
        #expect(smallDone == 2 * Self.second)
        #expect(largeDone == 2 * Self.second - 10 * Self.millisecond)
    }

    @Test("jitter varies delays within ± jitter and never reorders a flow")
    func jitter() {
        var link = LinkModel(
            spec: LinkSpec(bitsPerSecond: 1e9, latencySeconds: 0.050, jitterSeconds: 0.005), chunkBytes: 1000, seed: 42)
        for message in 0..<200 {
            link.offer(message: message, flow: 0, bytes: 1000, now: Int64(message) * Self.millisecond)
        }
        var deliveries: [LinkModel.Delivery] = []
        var now: Int64 = 0
        while now < Self.second {
            deliveries += link.advance(to: now)
            now += 100_000
        }
        #expect(deliveries.map(\.message) == Array(0..<200))
        let delays = deliveries.map { Double($0.dueAt - $0.offeredAt) / 1e6 }
        #expect(delays.allSatisfy { $0 >= 45 && $0 <= 55 + 0.01 }, "\(delays.min()!)…\(delays.max()!) ms")
        #expect(delays.max()! - delays.min()! > 2, "jitter should spread the delays")
    }

    @Test("the queue is bounded: it refuses more once full and takes again as it drains")
    func bound() {
        var link = LinkModel(
            spec: LinkSpec(bitsPerSecond: 8e6, latencySeconds: 0), chunkBytes: 10_000, queueLimitBytes: 50_000)
        link.offer(message: 1, flow: 0, bytes: 40_000, now: 0)
        #expect(link.canAccept)
        link.offer(message: 2, flow: 0, bytes: 40_000, now: 0)
        #expect(!link.canAccept && link.queuedBytes == 80_000)
        _ = link.advance(to: 35 * Self.millisecond)  // four chunks on the wire
        #expect(link.queuedBytes == 40_000 && link.canAccept)
    }

    @Test("queueing delay is the wait for the serialiser; an idle link starts at once")
    func queueDelay() {
        var link = LinkModel(spec: LinkSpec(bitsPerSecond: 8e6, latencySeconds: 0.001), chunkBytes: 10_000)
        link.offer(message: 1, flow: 0, bytes: 100_000, now: 0)  // busy until 100 ms
        link.offer(message: 2, flow: 1, bytes: 10_000, now: 5 * Self.millisecond)
        let deliveries = Self.run(&link, until: Self.second)
        let second = deliveries.first { $0.message == 2 }!
        #expect(second.queueDelay == 5 * Self.millisecond)  // waits for message 1's first chunk (0–10 ms)
        #expect(second.dueAt == 20 * Self.millisecond + Self.millisecond)
        // Idle for a while, then a new message starts when offered.
        link.offer(message: 3, flow: 0, bytes: 10_000, now: 2 * Self.second)
        let late = Self.run(&link, from: 2 * Self.second, until: 3 * Self.second)
        #expect(late.first?.dueAt == 2 * Self.second + 10 * Self.millisecond + Self.millisecond)
        #expect(late.first?.queueDelay == 0)
    }

    @Test("cut-through: a message starts one hop before it was received and leaves one hop before it arrives")
    func cutThrough() {
        // 8 Mbit/s (1 µs a byte), 10 ms; a hop of 100 µs + 1 ns a byte.
        var link = LinkModel(spec: LinkSpec(bitsPerSecond: 8e6, latencySeconds: 0.010), chunkBytes: 65_536)
        link.hop = LinkModel.Hop(alphaNanoseconds: 100_000, nanosecondsPerByte: 1)
        // 100 000 bytes received whole at 10 ms: on the wire from 9.8 ms (its first byte came a
        // hop earlier) to 109.8 ms, at the far end at 119.8 ms, so it leaves 200 µs before that.
        link.offer(message: 1, flow: 0, bytes: 100_000, now: 10 * Self.millisecond)
        let one = Self.run(&link, from: 10 * Self.millisecond, until: 200 * Self.millisecond, step: 100_000)
        #expect(one.map(\.dueAt) == [119_600_000])
        #expect(one.first?.offeredAt == 9_800_000 && one.first?.queueDelay == 0)
        #expect(link.counters.busy == 100 * Self.millisecond)
        // Never before it was received: with no latency and a hop longer than the message's
        // time on the wire, it leaves when it came.
        var fast = LinkModel(spec: LinkSpec(bitsPerSecond: 8e9, latencySeconds: 0), chunkBytes: 65_536)
        fast.hop = LinkModel.Hop(alphaNanoseconds: 5_000_000, nanosecondsPerByte: 0)
        fast.offer(message: 1, flow: 0, bytes: 1000, now: Self.second)
        #expect(Self.run(&fast, from: Self.second, until: 2 * Self.second).map(\.dueAt) == [Self.second])
        // Never before an earlier message of its flow: a hop slower than the link (10 ns a byte
        // against 1) would otherwise let a large message overtake a small one sent before it.
        var order = LinkModel(spec: LinkSpec(bitsPerSecond: 8e9, latencySeconds: 0.001), chunkBytes: 1 << 20)
        order.hop = LinkModel.Hop(alphaNanoseconds: 0, nanosecondsPerByte: 10)
        order.offer(message: 1, flow: 0, bytes: 1000, now: Self.millisecond)  // wire 0.990–0.991 ms
        order.offer(message: 2, flow: 0, bytes: 100_000, now: Self.millisecond)  // wire 0.991–1.091 ms
        let both = Self.run(&order, from: Self.millisecond, until: 3 * Self.millisecond, step: 1000)
        // 1: 1.991 ms − 10 µs; 2: 2.091 ms − 1 ms = 1.091 ms, held behind 1.
        #expect(both.map(\.message) == [1, 2] && both.map(\.dueAt) == [1_981_000, 1_981_000])
    }

    @Test("cut-through: when the sender's time is known, a message starts one α after it was sent")
    func cutThroughSentAt() {
        var link = LinkModel(spec: LinkSpec(bitsPerSecond: 8e6, latencySeconds: 0.010), chunkBytes: 65_536)
        link.hop = LinkModel.Hop(alphaNanoseconds: 100_000, nanosecondsPerByte: 1)
        // Sent at 8 ms, received whole at 10 ms (a slow hop): on the wire from 8.1 ms to 108.1 ms.
        link.offer(message: 1, flow: 0, bytes: 100_000, now: 10 * Self.millisecond, sentAt: 8 * Self.millisecond)
        var both = Self.run(&link, from: 10 * Self.millisecond, until: 199 * Self.millisecond, step: 100_000)
        // A time after it was received (another machine's clock, say) counts as received then.
        link.offer(message: 2, flow: 1, bytes: 1000, now: 200 * Self.millisecond, sentAt: 300 * Self.millisecond)
        both += Self.run(&link, from: 200 * Self.millisecond, until: 400 * Self.millisecond, step: 100_000)
        #expect(both.map(\.offeredAt) == [8_100_000, 200 * Self.millisecond])
        #expect(
            both.map(\.dueAt) == [
                108_100_000 + 10 * Self.millisecond - 200_000,
                200 * Self.millisecond + Self.millisecond + 10 * Self.millisecond - 101_000,
            ])
        // Store-and-forward ignores it.
        var plain = LinkModel(spec: LinkSpec(bitsPerSecond: 8e6, latencySeconds: 0.010), chunkBytes: 65_536)
        plain.offer(message: 1, flow: 0, bytes: 1000, now: 10 * Self.millisecond, sentAt: 8 * Self.millisecond)
        #expect(
            Self.run(&plain, from: 10 * Self.millisecond, until: 50 * Self.millisecond).map(\.offeredAt) == [
                10 * Self.millisecond
            ])
    }

    @Test("a bucket lets its depth through at once after an idle moment, and no more than the bandwidth over time")
    func bucket() {
        // 8 Mbit/s (1 µs a byte), 10 ms, a bucket of 50 000 bytes, 10 000-byte chunks.
        let spec = LinkSpec(bitsPerSecond: 8e6, latencySeconds: 0.010, burstBytes: 50_000)
        #expect(spec.burstNanoseconds == 50 * Self.millisecond)
        var link = LinkModel(spec: spec, chunkBytes: 10_000)
        // 100 000 bytes on a full bucket: the first half goes at once, the rest at the line's
        // rate, so its last byte leaves at 50 ms (a line: 100 ms).
        link.offer(message: 1, flow: 0, bytes: 100_000, now: 0)
        #expect(Self.run(&link, until: 69 * Self.millisecond).map(\.dueAt) == [60 * Self.millisecond])
        // 20 ms after that, the bucket holds 20 000 bytes again: 80 000 at the rate, ending at 150 ms.
        link.offer(message: 2, flow: 0, bytes: 100_000, now: 70 * Self.millisecond)
        #expect(
            Self.run(&link, from: 70 * Self.millisecond, until: 300 * Self.millisecond).map(\.dueAt) == [
                160 * Self.millisecond
            ])
        // Idle for longer than a bucket's time: full again, and never fuller.
        link.offer(message: 3, flow: 0, bytes: 100_000, now: 500 * Self.millisecond)
        #expect(
            Self.run(&link, from: 500 * Self.millisecond, until: 600 * Self.millisecond).map(\.dueAt) == [
                560 * Self.millisecond
            ])
        // Over a long transfer the bucket adds its depth once, not a rate: 1 MB takes 950 ms.
        var long = LinkModel(spec: spec, chunkBytes: 10_000)
        long.offer(message: 1, flow: 0, bytes: 1_000_000, now: 0)
        #expect(Self.run(&long, until: 2 * Self.second).map(\.dueAt) == [960 * Self.millisecond])
        #expect(long.counters.busy == Self.second)
        // No chunk leaves before it was offered: a small message on a full bucket arrives one
        // latency after it came.
        var small = LinkModel(spec: spec, chunkBytes: 10_000)
        small.offer(message: 1, flow: 0, bytes: 1000, now: Self.second)
        #expect(
            Self.run(&small, from: Self.second, until: 2 * Self.second).map(\.dueAt) == [
                Self.second + 10 * Self.millisecond
            ])
    }

    @Test("cut-through with a hop longer than the latency: the tail is committed, so the release comes one hop ahead")
    func committedTail() {
        // 8 Mbit/s (1 µs a byte), no latency, 10 000-byte chunks (10 ms each), a hop of 25 ms.
        var link = LinkModel(spec: LinkSpec(bitsPerSecond: 8e6, latencySeconds: 0), chunkBytes: 10_000)
        link.hop = LinkModel.Hop(alphaNanoseconds: 25 * Self.millisecond, nanosecondsPerByte: 0)
        // 100 000 bytes sent at 0 (received at once): on the wire 0–100 ms. The chunks after
        // the eighth (70–80 ms) take 20 ms, less than the hop, so the tail is committed at 70 ms
        // and the message leaves at 75 ms, one hop before it arrives (without the commitment,
        // not before its last chunk's start, 90 ms).
        link.offer(message: 1, flow: 1, bytes: 100_000, now: 0, sentAt: 0)
        var deliveries = link.advance(to: 0)
        // A message of another flow at 72 ms would be served next at 80 ms (it comes back
        // level, and wins the tie); it waits for the committed tail, and goes 100–110 ms.
        deliveries += Self.run(&link, from: Self.millisecond, until: 71 * Self.millisecond)
        link.offer(message: 2, flow: 0, bytes: 10_000, now: 72 * Self.millisecond, sentAt: 72 * Self.millisecond)
        deliveries += Self.run(&link, from: 72 * Self.millisecond, until: 200 * Self.millisecond)
        #expect(deliveries.map(\.message) == [1, 2])
        // Message 2 arrives at 110 ms: one hop before is 85 ms, before it settled; it leaves at 100 ms.
        #expect(deliveries.map(\.dueAt) == [75 * Self.millisecond, 100 * Self.millisecond])
        #expect(deliveries.last?.queueDelay == 28 * Self.millisecond)
        #expect(link.counters.busy == 110 * Self.millisecond)
    }

    @Test(
        "where the receiver holds: released once its arrival is settled, with the arrival time; a flow stays in order")
    func receiverHolds() {
        // As in `cutThrough`: 8 Mbit/s, 10 ms, a hop of 100 µs + 1 ns a byte; 100 000 bytes
        // received at 10 ms are on the wire 9.8–109.8 ms and reach the far end at 119.8 ms.
        var link = LinkModel(spec: LinkSpec(bitsPerSecond: 8e6, latencySeconds: 0.010), chunkBytes: 65_536)
        link.hop = LinkModel.Hop(alphaNanoseconds: 100_000, nanosecondsPerByte: 1)
        link.receiverHolds = true
        // Its chunks are 34 464 bytes (the part left over goes first), then 65 536: the last
        // starts at 44.264 ms, and from then nothing can come between, so it leaves then.
        link.offer(message: 1, flow: 0, bytes: 100_000, now: 10 * Self.millisecond)
        // A second message of the flow, 1000 bytes at 20 ms: on the wire 109.8–110.8 ms, at the
        // far end at 120.8 ms; released at its start, after the first.
        link.offer(message: 2, flow: 0, bytes: 1000, now: 20 * Self.millisecond)
        let both = Self.run(&link, from: 10 * Self.millisecond, until: 200 * Self.millisecond, step: 100_000)
        #expect(both.map(\.message) == [1, 2])
        #expect(both.map(\.arrivesAt) == [119_800_000, 120_800_000])
        #expect(both.map(\.dueAt) == [44_264_000, 109_800_000])
        // The same link, the gateway holding: released one hop before each arrival.
        var held = LinkModel(spec: LinkSpec(bitsPerSecond: 8e6, latencySeconds: 0.010), chunkBytes: 65_536)
        held.hop = link.hop
        held.offer(message: 1, flow: 0, bytes: 100_000, now: 10 * Self.millisecond)
        let one = Self.run(&held, from: 10 * Self.millisecond, until: 200 * Self.millisecond, step: 100_000)
        #expect(one.map(\.dueAt) == [119_600_000] && one.map(\.arrivesAt) == [119_800_000])
    }

    @Test("a link with no hop is store-and-forward: the same deliveries as before hops existed")
    func noHop() {
        var link = LinkModel(spec: LinkSpec(bitsPerSecond: 8e6, latencySeconds: 0.010), chunkBytes: 65_536)
        link.offer(message: 1, flow: 0, bytes: 100_000, now: 10 * Self.millisecond)
        let one = Self.run(&link, from: 10 * Self.millisecond, until: 200 * Self.millisecond, step: 100_000)
        #expect(one.map(\.dueAt) == [120 * Self.millisecond] && one.first?.offeredAt == 10 * Self.millisecond)
    }
}
