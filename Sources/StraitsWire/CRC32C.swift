import CStraitsShims

/// CRC32C (Castagnoli), the checksum in a data frame's header: SSE4.2 `crc32` where the CPU has
/// it, a table otherwise. `CRC32C.checksum("123456789")` is 0xE3069283.
public enum CRC32C {
    /// The checksum of `bytes`, continuing from `crc` (0 to start).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
        return straits_crc32c(crc, base, bytes.count)
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}
