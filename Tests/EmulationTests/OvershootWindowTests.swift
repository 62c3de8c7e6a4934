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
