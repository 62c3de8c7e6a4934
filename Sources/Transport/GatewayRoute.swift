import Emulation
import Foundation

/// The frame a worker puts in front of a data message it sends through its region's gateway
/// (little-endian): magic `STRG` (0x47525453), the destination rank, then when the sender handed
/// the message to its socket and which clock that time is on: the cluster's (`clusterClock`: the
/// coordinator's monotonic clock, which each process reads through its measured offset,
/// `ClockSync`), or a machine's CLOCK_MONOTONIC (a hash of the kernel's boot id: processes on one
/// machine share it). 24 bytes; a frame of the first 8 alone is a route without a time.
///
/// A gateway sends each message on with an arrival frame in place of the route: the same layout
/// with magic `STRA` (0x41525453) and the time the message reaches the far end of its link; the
/// receiving rank takes it no sooner (with `--hold receiver` the gateway sends it well before).
public enum GatewayRoute {
    public static let magic: UInt32 = 0x4752_5453
    public static let arrivalMagic: UInt32 = 0x4152_5453
    public static let size = 24
    public static let shortSize = 8

    /// What a route frame says.
    public struct Route: Equatable {
        public var destination: Int
        /// When it was sent, on this process's clock; nil when the frame has no time or the
        /// sender's clock is another machine's.
        public var sentAt: Int64?
    }

    /// The cluster's clock ("CLUSTER" in ASCII, little-endian): times on the coordinator's clock.
    public static let clusterClock: UInt64 = 0x0052_4554_5355_4C43

    /// This machine's clock: FNV-1a of /proc/sys/kernel/random/boot_id (0, never matched, if
    /// it cannot be read).
    public static let clock: UInt64 = {
        guard let id = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) else { return 0 }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in id.trimmingCharacters(in: .whitespacesAndNewlines).utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash == 0 ? 1 : hash
    }()

    /// A route to `rank` stamped with `sentAt` (this process's clock, now unless told) in cluster
    /// time, which a gateway on any host reads.
    public static func frame(destination rank: Int, sentAt: Int64 = SystemClock.shared.now()) -> [UInt8] {
        frame(destination: rank, time: ClockSync.toCluster(sentAt), clock: clusterClock, magic: magic)
    }

    /// A route frame with `time` as it is, on `clock`.
    public static func frame(destination rank: Int, time sentAt: Int64, clock: UInt64, magic: UInt32 = Self.magic)
        -> [UInt8]
    {
        var bytes = [UInt8](repeating: 0, count: size)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: UInt32(rank).littleEndian, toByteOffset: 4, as: UInt32.self)
            raw.storeBytes(of: UInt64(bitPattern: sentAt).littleEndian, toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: clock.littleEndian, toByteOffset: 16, as: UInt64.self)
        }
        return bytes
    }

    /// An arrival frame: `rank`'s message arrives at `arrivesAt` (this process's clock), sent in
    /// cluster time.
    public static func arrivalFrame(destination rank: Int, arrivesAt: Int64) -> [UInt8] {
        frame(destination: rank, time: ClockSync.toCluster(arrivesAt), clock: clusterClock, magic: arrivalMagic)
    }

    /// The route in a frame, or nil if it is not one (wrong size or magic); with `magic:
    /// arrivalMagic`, an arrival frame (`sentAt` is then when the message arrives).
    public static func parse(_ frame: UnsafeRawBufferPointer, clock: UInt64 = Self.clock, magic: UInt32 = Self.magic)
        -> Route?
    {
        guard frame.count == size || frame.count == shortSize,
            UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == magic
        else { return nil }
        var route = Route(
            destination: Int(UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: 4, as: UInt32.self))))
        guard frame.count == size else { return route }
        let stamped = UInt64(littleEndian: frame.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        let time = Int64(bitPattern: UInt64(littleEndian: frame.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        if stamped == clusterClock {
            route.sentAt = ClockSync.toLocal(time)
        } else if clock != 0, stamped == clock {
            route.sentAt = time
        }
        return route
    }
}
