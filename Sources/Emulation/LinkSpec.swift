/// A directed WAN link as the gateway emulates it.
public struct LinkSpec: Sendable, Equatable {
    public var bitsPerSecond: Double
    /// One way.
    public var latencySeconds: Double
    /// Each chunk's delay varies uniformly within ± this (never reordering a flow).
    public var jitterSeconds: Double

    public init(bitsPerSecond: Double, latencySeconds: Double, jitterSeconds: Double = 0) {
        precondition(bitsPerSecond > 0, "link of \(bitsPerSecond) bit/s")
        self.bitsPerSecond = bitsPerSecond
        self.latencySeconds = latencySeconds
        self.jitterSeconds = jitterSeconds
    }

    /// Nanoseconds to serialise `bytes` onto the link (rounded up: a link is never faster than it is).
    public func serialisationNanoseconds(_ bytes: Int) -> Int64 {
        let exact = Double(bytes) * 8 * 1e9 / bitsPerSecond
        return Int64(exact.rounded(.up))
    }
}
