/// The α-β (Hockney) cost of one link: a message of `n` bytes takes `α + n·β` seconds.
public struct LinkCost: Sendable, Equatable, CustomStringConvertible {
    /// Latency per message, in seconds.
    public var alphaSeconds: Double
    /// Time per byte, in seconds (the inverse of bandwidth).
    public var betaSecondsPerByte: Double

    public init(alphaSeconds: Double, betaSecondsPerByte: Double) {
        self.alphaSeconds = alphaSeconds
        self.betaSecondsPerByte = betaSecondsPerByte
    }

    /// A link of `bandwidthBytesPerSecond` and one-way `latencySeconds`.
    public init(latencySeconds: Double, bandwidthBytesPerSecond: Double) {
        self.init(alphaSeconds: latencySeconds, betaSecondsPerByte: 1 / bandwidthBytesPerSecond)
    }

    /// What to assume before anything is measured: 30 µs, 2 GB/s (loopback TCP on a small machine).
    public static let unmeasured = LinkCost(alphaSeconds: 30e-6, betaSecondsPerByte: 1 / 2e9)

    public var bandwidthGBps: Double { 1 / betaSecondsPerByte / 1e9 }

    public func seconds(bytes: Double) -> Double { alphaSeconds + bytes * betaSecondsPerByte }

    public var description: String {
        "α \(fixed(alphaSeconds * 1e6, 1)) µs, β \(fixed(betaSecondsPerByte * 1e9, 3)) ns/B (\(fixed(bandwidthGBps, 2)) GB/s)"
    }
}
