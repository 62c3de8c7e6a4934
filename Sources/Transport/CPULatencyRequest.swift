import Foundation

/// A request to the kernel's CPU latency QoS (`/dev/cpu_dma_latency`, as cyclictest holds while
/// it measures, and tuned's latency-performance profile): while it asks for 0 µs, an idle CPU
/// waits in the kernel's idle loop by polling instead of halting, so a timer or a wake-up reaches
/// its thread at once. On a virtual machine a halted CPU comes back when its hypervisor gets to
/// it, often hundreds of microseconds late. No thread spins for it: a polling CPU switches to a
/// runnable thread as soon as there is one, so the ranks lose no time; the host sees the CPU busy.
///
/// The request is one of the kernel's: opened, it asks nothing; `hold()` asks, `release()` stops
/// asking, and the kernel drops it when the file closes, also when the process dies.
public final class CPULatencyRequest {
    public static let defaultPath = "/dev/cpu_dma_latency"
    /// What the kernel reads as "no constraint" (`PM_QOS_DEFAULT_VALUE`, 2000 s).
    public static let noConstraint: Int32 = 2_000_000_000

    public let path: String
    public let microseconds: Int32
    private let descriptor: Int32
    public private(set) var isHeld = false

    /// Opens a request for `microseconds` of wake-up latency at most, not yet held.
    public init(microseconds: Int, path: String = CPULatencyRequest.defaultPath) throws {
        guard (0...Int(Self.noConstraint)).contains(microseconds) else {
            throw RuntimeError(
                .invalidArgument, "a CPU latency of \(microseconds) µs is out of range (0…\(Self.noConstraint))")
        }
        self.path = path
        self.microseconds = Int32(microseconds)
        descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw RuntimeError(.system, "cannot open \(path) (\(String(cString: strerror(errno))))")
        }
    }

    deinit {
        close(descriptor)
    }

    /// Asks the kernel to keep every CPU's wake-up latency within `microseconds`.
    public func hold() throws {
        guard !isHeld else { return }
        try write(microseconds)
        isHeld = true
    }

    /// Stops asking (the CPUs may halt again).
    public func release() throws {
        guard isHeld else { return }
        try write(Self.noConstraint)
        isHeld = false
    }

    private func write(_ value: Int32) throws {
        var value = value
        let written = withUnsafeBytes(of: &value) { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == MemoryLayout<Int32>.size else {
            throw RuntimeError(
                .system,
                "cannot write \(value) to \(path) (\(written < 0 ? String(cString: strerror(errno)) : "\(written) of 4 bytes written"))"
            )
        }
    }
}
