import Foundation
import Testing

@testable import Services
@testable import Transport

@Suite("CPU latency request", .serialized)
struct CPULatencyRequestTests {
    /// The 4-byte native-endian values written so far to `path`.
    static func written(_ path: String) throws -> [Int32] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return stride(from: 0, to: data.count, by: 4).map { offset in
            data[offset..<offset + 4].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        }
    }

    @Test("asks the kernel only when it changes what it asks: the bound to hold, no constraint to release")
    func holdAndRelease() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cpu-latency-\(getpid())").path
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let request = try CPULatencyRequest(microseconds: 7, path: path)
        #expect(!request.isHeld)
        #expect(try Self.written(path) == [])
        try request.release()
        try request.hold()
        try request.hold()
        #expect(request.isHeld)
        try request.release()
        try request.release()
        try request.hold()
        #expect(try Self.written(path) == [7, 2_000_000_000, 7])
    }

    @Test("a request that cannot be made says where and why")
    func failures() throws {
        #expect { try CPULatencyRequest(microseconds: 0, path: "/nonexistent/cpu_dma_latency") } throws: { error in
            "\(error)".contains("/nonexistent/cpu_dma_latency") && "\(error)".contains("No such file")
        }
        #expect(throws: RuntimeError.self) { try CPULatencyRequest(microseconds: -1, path: "/dev/null") }
    }

    @Test("the gateway asks for 0 µs unless told a bound or off")
    func gatewayFlag() throws {
        let base = ["--coordinator", "tcp://127.0.0.1:1", "--region", "a", "--topology", "t.yaml"]
        #expect(try GatewayOptions(arguments: base).cpuLatencyMicroseconds == 0)
        #expect(try GatewayOptions(arguments: base + ["--cpu-latency-us", "50"]).cpuLatencyMicroseconds == 50)
        #expect(try GatewayOptions(arguments: base + ["--cpu-latency-us", "off"]).cpuLatencyMicroseconds == nil)
        #expect { try GatewayOptions(arguments: base + ["--cpu-latency-us", "soon"]) } throws: { error in
            "\(error)".contains("--cpu-latency-us") && "\(error)".contains("soon")
        }
        #expect(try SweepOptions(arguments: ["--cpu-latency-us", "off"]).cpuLatency == "off")
        #expect(throws: RuntimeError.self) { try SweepOptions(arguments: ["--cpu-latency-us", "-3"]) }
    }
}
