/// A directed WAN link as the gateway emulates it.
public struct LinkSpec: Sendable, Equatable {
    public var bitsPerSecond: Double
    /// One way.
    public var latencySeconds: Double
    /// Each chunk's delay varies uniformly within ± this (never reordering a flow).
    public var jitterSeconds: Double
    /// What the link carries besides the bytes it is given.
    public var framing: Framing
    /// A token bucket in front of the line, in bytes on the wire (headers counted, as `tc`
    /// counts them): 0 is a line, whose bytes go at its bandwidth and no faster. With a bucket,
    /// the link is a shaper like `tc tbf rate … burst …` or a cloud provider's policer: tokens
    /// accrue at the bandwidth up to the bucket's depth, and a chunk goes as soon as there are
    /// tokens for it, so after an idle moment up to a bucket's worth goes at once.
    public var burstBytes: Int

    /// Headers on the wire: `headerBytes` for every `segmentBytes` of payload or part of it.
    public struct Framing: Sendable, Equatable {
        public var segmentBytes: Int
        public var headerBytes: Int

        public init(segmentBytes: Int, headerBytes: Int) {
            precondition(segmentBytes > 0 && headerBytes >= 0)
            self.segmentBytes = segmentBytes
            self.headerBytes = headerBytes
        }

        /// A TCP/IPv4 stream over Ethernet with a 1500-byte MTU: each 1448-byte segment goes
        /// out with 66 bytes of headers (Ethernet 14, IPv4 20, TCP with timestamps 32), as
        /// `tc` counts them; a link's bandwidth is its line rate, so 1 Gbit/s carries
        /// 956 Mbit/s of payload. (Preamble, frame check and inter-frame gap, 24 bytes more
        /// on a physical Ethernet, are not counted, as `tc` does not.)
        public static let tcpEthernet = Framing(segmentBytes: 1448, headerBytes: 66)
        /// Only the bytes given.
        public static let none = Framing(segmentBytes: .max, headerBytes: 0)

        /// Bytes on the wire for `payload` bytes.
        public func wireBytes(_ payload: Int) -> Int {
            guard headerBytes > 0, payload > 0 else { return payload }
            return payload + (payload + segmentBytes - 1) / segmentBytes * headerBytes
        }
    }

    public init(
        bitsPerSecond: Double, latencySeconds: Double, jitterSeconds: Double = 0, framing: Framing = .none,
        burstBytes: Int = 0
    ) {
        precondition(bitsPerSecond > 0, "link of \(bitsPerSecond) bit/s")
        precondition(burstBytes >= 0, "bucket of \(burstBytes) bytes")
        self.bitsPerSecond = bitsPerSecond
        self.latencySeconds = latencySeconds
        self.jitterSeconds = jitterSeconds
        self.framing = framing
        self.burstBytes = burstBytes
    }

    /// How far the bucket lets the serialiser run ahead of the line: a full bucket's time at
    /// the bandwidth (rounded down: a bucket never holds more than it is).
    public var burstNanoseconds: Int64 {
        Int64((Double(burstBytes) * 8 * 1e9 / bitsPerSecond).rounded(.down))
    }

    /// Nanoseconds to serialise `bytes` of payload onto the link, headers included (rounded
    /// up: a link is never faster than it is).
    public func serialisationNanoseconds(_ bytes: Int) -> Int64 {
        let exact = Double(framing.wireBytes(bytes)) * 8 * 1e9 / bitsPerSecond
        return Int64(exact.rounded(.up))
    }
}
