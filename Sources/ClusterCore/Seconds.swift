/// Nanoseconds as seconds for messages a person reads: rounded to `places` decimals, with no
/// trailing zeros (`5`, `5.2`, `0.125`).
enum Seconds {
    static func text(_ nanoseconds: Int64, places: Int) -> String {
        var scale: Int64 = 1
        for _ in 0..<max(0, min(places, 9)) { scale *= 10 }
        let unit = 1_000_000_000 / scale
        let rounded = (nanoseconds + (nanoseconds >= 0 ? unit / 2 : -unit / 2)) / unit
        let whole = rounded / scale
        let fraction = abs(rounded % scale)
        guard fraction != 0 else { return (rounded < 0 && whole == 0 ? "-" : "") + String(whole) }
        var digits = String(fraction)
        while digits.count < String(scale).count - 1 { digits = "0" + digits }
        while digits.hasSuffix("0") { digits.removeLast() }
        return (rounded < 0 && whole == 0 ? "-" : "") + String(whole) + "." + digits
    }

    /// Seconds as monotonic nanoseconds (a duration).
    static func nanoseconds(_ seconds: Double) -> Int64 {
        Int64((seconds * 1e9).rounded())
    }
}
