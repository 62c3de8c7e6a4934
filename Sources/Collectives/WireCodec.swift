/// Lossy wire formats for float32 data on slow links: the values travel as fp16, bf16 or int8
/// and are widened back to float32 on arrival, so every reduction still accumulates in float32.
///
/// - fp16 (IEEE binary16, round to nearest even, clamped to ±65504) and bf16 (the top 16 bits of
///   float32, round to nearest even): 2 bytes per value.
/// - int8: blocks of 256 values share one scale, a power of two 2^e stored as one signed byte
///   (as in the OCP microscaling formats; −128 marks an all-zero block); each value is
///   round(x / 2^e) in −127…127. Layout: the block exponents, then the int8 values.
///
/// Every format is idempotent: encoding a value that came out of the same format gives the same
/// bytes back. A power-of-two scale makes int8 so (the largest value of a decoded block is 64…127
/// times its scale, which picks the same exponent again). That is what keeps replicas identical
/// when a chunk is re-sent along a ring after it was quantised once.
public enum WireCodec {
    public enum Format: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        case float32 = 1
        case float16 = 2
        case bfloat16 = 3
        case int8 = 4

        public var description: String {
            switch self {
            case .float32: "fp32"
            case .float16: "fp16"
            case .bfloat16: "bf16"
            case .int8: "int8"
            }
        }
    }

    public static let blockElements = 256
    static let zeroBlock: Int8 = -128

    /// Bytes that `count` values take in `format`.
    public static func encodedSize(_ format: Format, count: Int) -> Int {
        switch format {
        case .float32: count * 4
        case .float16, .bfloat16: count * 2
        case .int8: count + (count + blockElements - 1) / blockElements
        }
    }

    /// Encodes `count` float32 values from `source` (any alignment) into `destination`
    /// (`encodedSize` bytes). With `residual` (error feedback), the value encoded is
    /// source + residual, and residual becomes what the encoding lost. With `writeBack`,
    /// `source` is overwritten with the decoded values (what every receiver will hold).
    public static func encode(
        _ format: Format, from source: UnsafeMutableRawPointer, count: Int,
        residual: UnsafeMutablePointer<Float>? = nil, writeBack: Bool = false,
        into destination: UnsafeMutableRawPointer
    ) {
        @inline(__always) func value(_ i: Int) -> Float {
            let x = source.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
            return residual.map { x + $0[i] } ?? x
        }
        @inline(__always) func settle(_ i: Int, _ v: Float, _ decoded: Float) {
            if let residual { residual[i] = v - decoded }
            if writeBack { source.storeBytes(of: decoded, toByteOffset: i * 4, as: Float.self) }
        }
        switch format {
        case .float32:
            for i in 0..<count {
                let v = value(i)
                destination.storeBytes(of: v, toByteOffset: i * 4, as: Float.self)
                settle(i, v, v)
            }
        case .float16:
            for i in 0..<count {
                let v = value(i)
                let half = Float16(min(max(v, -65504), 65504))
                destination.storeBytes(of: half.bitPattern.littleEndian, toByteOffset: i * 2, as: UInt16.self)
                settle(i, v, Float(half))
            }
        case .bfloat16:
            for i in 0..<count {
                let v = value(i)
                let bits = bfloat16Bits(v)
                destination.storeBytes(of: bits.littleEndian, toByteOffset: i * 2, as: UInt16.self)
                settle(i, v, Float(bitPattern: UInt32(bits) << 16))
            }
        case .int8:
            let blocks = (count + blockElements - 1) / blockElements
            let values = destination + blocks
            var block = [Float](repeating: 0, count: blockElements)
            for b in 0..<blocks {
                let start = b * blockElements
                let n = min(blockElements, count - start)
                var largest: Float = 0
                for j in 0..<n {
                    block[j] = value(start + j)
                    largest = max(largest, abs(block[j]))
                }
                let exponent = int8Exponent(largest)
                destination.storeBytes(of: exponent, toByteOffset: b, as: Int8.self)
                let scale = exponent == zeroBlock ? 0 : Float(sign: .plus, exponent: Int(exponent), significand: 1)
                for j in 0..<n {
                    let q = scale == 0 ? 0 : Int8(max(-127, min(127, (block[j] / scale).rounded(.toNearestOrEven))))
                    values.storeBytes(of: q, toByteOffset: start + j, as: Int8.self)
                    settle(start + j, block[j], Float(q) * scale)
                }
            }
        }
    }

    /// Decodes `count` values from `source` (`encodedSize` bytes) and adds them into
    /// `destination` (`accumulate`) or stores them there.
    public static func decode(
        _ format: Format, from source: UnsafeRawPointer, count: Int,
        into destination: UnsafeMutableRawPointer, accumulate: Bool
    ) {
        @inline(__always) func put(_ i: Int, _ v: Float) {
            let x = accumulate ? destination.loadUnaligned(fromByteOffset: i * 4, as: Float.self) + v : v
            destination.storeBytes(of: x, toByteOffset: i * 4, as: Float.self)
        }
        switch format {
        case .float32:
            for i in 0..<count { put(i, source.loadUnaligned(fromByteOffset: i * 4, as: Float.self)) }
        case .float16:
            for i in 0..<count {
                put(
                    i,
                    Float(
                        Float16(
                            bitPattern: UInt16(
                                littleEndian: source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))))
            }
        case .bfloat16:
            for i in 0..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                put(i, Float(bitPattern: UInt32(bits) << 16))
            }
        case .int8:
            let blocks = (count + blockElements - 1) / blockElements
            let values = source + blocks
            for b in 0..<blocks {
                let exponent = source.load(fromByteOffset: b, as: Int8.self)
                let scale = exponent == zeroBlock ? 0 : Float(sign: .plus, exponent: Int(exponent), significand: 1)
                let start = b * blockElements
                for j in start..<min(start + blockElements, count) {
                    put(j, Float(values.load(fromByteOffset: j, as: Int8.self)) * scale)
                }
            }
        }
    }

    /// bf16 bits of `value`, rounded to nearest even (NaN stays NaN).
    static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x40 }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(rounded >> 16)
    }

    /// The smallest e with largest / 2^e ≤ 127, within float32's normal range; `zeroBlock` for 0.
    static func int8Exponent(_ largest: Float) -> Int8 {
        guard largest > 0, largest.isFinite else { return largest == 0 ? zeroBlock : 127 }
        let m = largest / 127
        var e = Int(m.exponent)
        if m > Float(sign: .plus, exponent: e, significand: 1) { e += 1 }
        return Int8(max(-126, min(127, e)))
    }
}
