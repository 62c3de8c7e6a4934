import Emulation
import Testing

@Suite("overshoot window")
struct OvershootWindowTests {
    @Test("how early a thread wakes follows a percentile of its recent overshoots, within its floor and ceiling")
    func overshootWindow() {
        var window = OvershootWindow()
        #expect(window.early == 100_000)
        // 128 overshoots of 30 µs: wake 40 µs early.
        for _ in 0..<128 { window.record(30_000) }
        #expect(window.early == 40_000)
        // Two in a hundred at 1 ms move the 99th percentile there, up to the ceiling.
        for index in 0..<128 { window.record(index % 50 == 0 ? 1_000_000 : 30_000) }
        #expect(window.early == OvershootWindow.ceiling)
        // The 90th, as for racing threads, stays with the common case.
        window.percentile = 90
        for index in 0..<128 { window.record(index % 50 == 0 ? 1_000_000 : 30_000) }
        #expect(window.early == 40_000)
        // A precise timer still wakes a margin early.
        for _ in 0..<128 { window.record(1_000) }
        #expect(window.early == OvershootWindow.floor)
        // A moment 10 ms away is approached by halves; the last sleep, under 250 µs, aims at it.
        var now: Int64 = 0
        var wakes: [Int64] = []
        while true {
            let (wake, final) = OvershootWindow.approach(from: now, to: 10_000_000)
            wakes.append(wake)
            if final { break }
            now = wake
        }
        #expect(wakes.prefix(3) == [5_000_000, 7_500_000, 8_750_000])
        #expect(wakes.last == 10_000_000 && wakes.count == 7)
        #expect(OvershootWindow.approach(from: 9_800_000, to: 10_000_000) == (10_000_000, true))
        // A moment already past is the final wake, at once.
        #expect(OvershootWindow.approach(from: 10_000_100, to: 10_000_000) == (10_000_000, true))
    }
}

@Suite("clock offset estimate: NTP's arithmetic, shortest round trip kept")
struct ClockOffsetEstimateTests {
    @Test("a clock 3 s behind the coordinator's, probed over paths of uneven delay")
    func estimate() {
        var estimate = ClockOffsetEstimate()
        #expect(estimate.errorBound == Int64.max && estimate.samples == 0)
        let offset: Int64 = 3_000_000_000  // coordinator = member + offset
        // (there, back) delays in ns; the shortest round trip is the third: 20 µs + 30 µs.
        let delays: [(Int64, Int64)] = [(400_000, 90_000), (70_000, 300_000), (20_000, 30_000), (500_000, 500_000)]
        var sent: Int64 = 1_000_000_000
        for (there, back) in delays {
            let reply = sent + there + offset
            estimate.add(sent: sent, reply: reply, received: sent + there + back)
            sent += 10_000_000
        }
        #expect(estimate.samples == 4)
        #expect(estimate.roundTrip == 50_000)
        // Off by half the difference of the two delays: (20 − 30) / 2 µs.
        #expect(estimate.offset == offset - 5_000)
        #expect(abs(estimate.offset - offset) <= estimate.errorBound)
        // A reply that comes back before its probe left is not a sample.
        estimate.add(sent: 10, reply: 5, received: 9)
        #expect(estimate.samples == 4)
    }
}
