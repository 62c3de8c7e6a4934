import Foundation

/// Parsing of the quantities in topology and job files. Decimal units for rates (Gbps = 1e9
/// bit/s, MB/s = 1e6 byte/s); sizes follow nccl-tests (K, M, G and KiB, MiB, GiB are powers of
/// 1024; KB, MB, GB powers of 1000).
public enum Units {
    /// Bits per second from `1Gbps`, `100 Mbps`, `125MB/s`, `2.5Tbps`; nil for a malformed rate.
    public static func bitsPerSecond(_ text: String) -> Double? {
        let (number, unit) = split(text)
        guard let number, number > 0 else { return nil }
        let scale: Double? =
            switch unit {
            case "bps", "bit/s": 1
            case "Kbps", "kbps", "Kbit/s": 1e3
            case "Mbps", "Mbit/s": 1e6
            case "Gbps", "Gbit/s": 1e9
            case "Tbps", "Tbit/s": 1e12
            case "B/s": 8
            case "KB/s", "kB/s": 8e3
            case "MB/s": 8e6
            case "GB/s": 8e9
            case "TB/s": 8e12
            default: nil
            }
        return scale.map { number * $0 }
    }

    /// Seconds from `40ms`, `250us`, `1.5s`, `0`; nil for a malformed duration.
    public static func seconds(_ text: String) -> Double? {
        let (number, unit) = split(text)
        guard let number, number >= 0 else { return nil }
        let scale: Double? =
            switch unit {
            case "ns": 1e-9
            case "us", "µs": 1e-6
            case "ms": 1e-3
            case "s": 1
            case "m", "min": 60
            case "": number == 0 ? 1 : nil
            default: nil
            }
        return scale.map { number * $0 }
    }

    /// Bytes from `64K`, `16MiB`, `1G`, `4096`, `10MB`; nil for a malformed or fractional size.
    public static func bytes(_ text: String) -> Int? {
        let (number, unit) = split(text)
        guard let number, number >= 0 else { return nil }
        let scale: Double? =
            switch unit {
            case "", "B": 1
            case "K", "KiB", "k": 1024
            case "M", "MiB": 1024 * 1024
            case "G", "GiB": 1024 * 1024 * 1024
            case "KB", "kB": 1e3
            case "MB": 1e6
            case "GB": 1e9
            default: nil
            }
        guard let scale else { return nil }
        let value = number * scale
        guard value == value.rounded(), value < 1e15 else { return nil }
        return Int(value)
    }

    /// A count such as `500K`, `1.5M`, `2G` (or `2B`) or `1T` (decimal: 1M = 1 000 000).
    public static func count(_ text: String) -> Int? {
        let (number, unit) = split(text)
        guard let number, number >= 0 else { return nil }
        let scale: Double? =
            switch unit {
            case "": 1
            case "K", "k": 1e3
            case "M": 1e6
            case "G", "B": 1e9
            case "T": 1e12
            default: nil
            }
        guard let scale, (number * scale).rounded() < 1e15 else { return nil }
        return Int((number * scale).rounded())
    }

    private static func split(_ text: String) -> (Double?, String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let numberPart = trimmed.prefix { $0.isNumber || $0 == "." || $0 == "-" }
        let unit = trimmed.dropFirst(numberPart.count).trimmingCharacters(in: .whitespaces)
        return (Double(numberPart), unit)
    }

    /// `1 Gbps`, `250 Mbps`: a rate for people.
    public static func formatRate(bitsPerSecond rate: Double) -> String {
        if rate >= 1e12 { return trim(rate / 1e12) + " Tbps" }
        if rate >= 1e9 { return trim(rate / 1e9) + " Gbps" }
        if rate >= 1e6 { return trim(rate / 1e6) + " Mbps" }
        if rate >= 1e3 { return trim(rate / 1e3) + " Kbps" }
        return trim(rate) + " bps"
    }

    /// `40 ms`, `250 µs`.
    public static func formatDuration(seconds: Double) -> String {
        if seconds >= 1 { return trim(seconds) + " s" }
        if seconds >= 1e-3 { return trim(seconds * 1e3) + " ms" }
        return trim(seconds * 1e6) + " µs"
    }

    /// A number for people at any magnitude: `trim` where it fits, Swift's own form beyond.
    public static func plain(_ value: Double) -> String {
        abs(value) < 1e15 ? trim(value) : "\(value)"
    }

    static func trim(_ value: Double) -> String {
        let rounded = (value * 1000).rounded() / 1000
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}
