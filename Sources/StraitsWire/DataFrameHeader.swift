/// The fixed header frame that precedes every data-plane payload frame.
///
/// 64 bytes, little-endian:
///
/// | offset | size | field |
/// | --- | --- | --- |
/// | 0 | 4 | magic `STRW` (0x57525453) |
/// | 4 | 2 | version |
/// | 6 | 1 | type (1 = collective data) |
/// | 7 | 1 | dtype of the payload on the wire: 1 float32, 2 fp16, 3 bf16, 4 int8 in blocks of 256 with a power-of-two scale each |
/// | 8 | 4 | membership epoch |
/// | 12 | 4 | source rank |
/// | 16 | 8 | step |
/// | 24 | 8 | collective id |
/// | 32 | 8 | tag (phase, step and chunk index of the algorithm) |
/// | 40 | 8 | offset of the payload in the buffer, bytes |
/// | 48 | 8 | payload length, bytes |
/// | 56 | 4 | CRC32C of the payload (0 unless flags bit 0 is set) |
/// | 60 | 4 | flags |
public struct DataFrameHeader: Equatable, Sendable {
    public static let size = 64
    public static let magic: UInt32 = 0x5752_5453
    public static let currentVersion: UInt16 = 1
    /// The largest payload one message carries. Schedules cut larger transfers into chunks no
    /// larger than this, so a receiver can set its sockets' part limit before it knows the job.
    public static let maximumPayloadBytes = 16 << 20

    public enum FrameType: UInt8, Sendable { case collectiveData = 1 }
    /// Bits of `flags`.
    public enum Flags {
        /// `crc32c` holds the CRC32C of the payload frame.
        public static let checksummed: UInt32 = 1
    }
    /// How the payload's values travel; `lengthBytes` and `offsetBytes` always count float32
    /// bytes of the buffer, whatever the payload's own size.
    public enum DataType: UInt8, Sendable {
        case float32 = 1
        case float16 = 2
        case bfloat16 = 3
        case int8 = 4
    }

    public var version: UInt16 = DataFrameHeader.currentVersion
    public var type: FrameType = .collectiveData
    public var dtype: DataType = .float32
    public var epoch: UInt32 = 0
    public var sourceRank: UInt32
    public var step: UInt64
    public var collectiveID: UInt64
    public var tag: UInt64
    public var offsetBytes: UInt64
    public var lengthBytes: UInt64
    public var crc32c: UInt32 = 0
    public var flags: UInt32 = 0

    public init(
        sourceRank: UInt32, step: UInt64, collectiveID: UInt64, tag: UInt64, offsetBytes: UInt64, lengthBytes: UInt64
    ) {
        self.sourceRank = sourceRank
        self.step = step
        self.collectiveID = collectiveID
        self.tag = tag
        self.offsetBytes = offsetBytes
        self.lengthBytes = lengthBytes
    }

    /// Why a header frame was refused.
    public enum DecodeError: Error, Equatable, CustomStringConvertible, Sendable {
        case wrongSize(Int)
        case badMagic(UInt32)
        case unsupportedVersion(UInt16)
        case unknownType(UInt8)
        case unknownDataType(UInt8)

        public var description: String {
            switch self {
            case .wrongSize(let size): "data header: expected \(DataFrameHeader.size) bytes, got \(size)"
            case .badMagic(let magic):
                "data header: bad magic 0x\(String(magic, radix: 16)), expected 0x\(String(DataFrameHeader.magic, radix: 16))"
            case .unsupportedVersion(let version):
                "data header: protocol version \(version), this build speaks \(DataFrameHeader.currentVersion)"
            case .unknownType(let type): "data header: unknown frame type \(type)"
            case .unknownDataType(let dtype): "data header: unknown dtype \(dtype)"
            }
        }
    }

    /// Writes the 64 header bytes into `bytes` (which must hold at least 64).
    public func encode(into bytes: UnsafeMutableRawBufferPointer) {
        precondition(bytes.count >= Self.size, "header needs \(Self.size) bytes")
        bytes.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        bytes.storeBytes(of: version.littleEndian, toByteOffset: 4, as: UInt16.self)
        bytes.storeBytes(of: type.rawValue, toByteOffset: 6, as: UInt8.self)
        bytes.storeBytes(of: dtype.rawValue, toByteOffset: 7, as: UInt8.self)
        bytes.storeBytes(of: epoch.littleEndian, toByteOffset: 8, as: UInt32.self)
        bytes.storeBytes(of: sourceRank.littleEndian, toByteOffset: 12, as: UInt32.self)
        bytes.storeBytes(of: step.littleEndian, toByteOffset: 16, as: UInt64.self)
        bytes.storeBytes(of: collectiveID.littleEndian, toByteOffset: 24, as: UInt64.self)
        bytes.storeBytes(of: tag.littleEndian, toByteOffset: 32, as: UInt64.self)
        bytes.storeBytes(of: offsetBytes.littleEndian, toByteOffset: 40, as: UInt64.self)
        bytes.storeBytes(of: lengthBytes.littleEndian, toByteOffset: 48, as: UInt64.self)
        bytes.storeBytes(of: crc32c.littleEndian, toByteOffset: 56, as: UInt32.self)
        bytes.storeBytes(of: flags.littleEndian, toByteOffset: 60, as: UInt32.self)
    }

    /// The header as 64 bytes.
    public var encoded: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.size)
        bytes.withUnsafeMutableBytes { encode(into: $0) }
        return bytes
    }

    /// Reads a header frame, refusing anything that is not exactly a header this build speaks.
    public init(decoding bytes: UnsafeRawBufferPointer) throws(DecodeError) {
        guard bytes.count == Self.size else { throw .wrongSize(bytes.count) }
        func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        let magic = load(0, UInt32.self)
        guard magic == Self.magic else { throw .badMagic(magic) }
        version = load(4, UInt16.self)
        guard version == Self.currentVersion else { throw .unsupportedVersion(version) }
        guard let type = FrameType(rawValue: load(6, UInt8.self)) else { throw .unknownType(load(6, UInt8.self)) }
        guard let dtype = DataType(rawValue: load(7, UInt8.self)) else { throw .unknownDataType(load(7, UInt8.self)) }
        self.type = type
        self.dtype = dtype
        epoch = load(8, UInt32.self)
        sourceRank = load(12, UInt32.self)
        step = load(16, UInt64.self)
        collectiveID = load(24, UInt64.self)
        tag = load(32, UInt64.self)
        offsetBytes = load(40, UInt64.self)
        lengthBytes = load(48, UInt64.self)
        crc32c = load(56, UInt32.self)
        flags = load(60, UInt32.self)
    }
}
