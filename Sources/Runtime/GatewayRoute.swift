/// The 8-byte frame a worker puts in front of a data message it sends through its region's
/// gateway: magic `STRG` (0x47525453) and the destination rank, little-endian.
enum GatewayRoute {
    static let magic: UInt32 = 0x4752_5453
    static let size = 8

    static func frame(destination rank: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: UInt32(rank).littleEndian, toByteOffset: 4, as: UInt32.self)
        }
        return bytes
    }

    /// The destination rank in a route frame, or nil if it is not one.
    static func destination(_ frame: UnsafeRawBufferPointer) -> Int? {
        guard frame.count == size, UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == magic else { return nil }
        return Int(UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
    }
}
