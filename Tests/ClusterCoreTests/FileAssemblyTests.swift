import ClusterCore
import StraitsWire
import Testing

@Suite("file assembly: rank 0's parameters reach the run directory in parts")
struct FileAssemblyTests {
    static func bytes(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

    @Test("a file cut into parts comes back whole, whatever its length", arguments: [0, 1, 4, 524_288, 1_500_001])
    func roundTrip(count: Int) {
        let file = Self.bytes(count)
        var assembly = FileAssembly()
        assembly.expect(file: "model-ddp.bin", bytes: count)
        let parts = ControlMessage.ModelPart.parts(of: file, file: "model-ddp.bin")
        #expect(
            parts.count
                == max(1, (count + ControlMessage.ModelPart.maximumBytes - 1) / ControlMessage.ModelPart.maximumBytes))
        for part in parts.dropLast() { #expect(assembly.on(part) == .partial) }
        #expect(assembly.on(parts.last!) == .complete(file: "model-ddp.bin", bytes: file))
        #expect(!assembly.awaits("model-ddp.bin"))
    }

    @Test("parts that do not fit what was asked are refused and the file forgotten")
    func refusals() {
        let file = Self.bytes(600_000)
        let parts = ControlMessage.ModelPart.parts(of: file, file: "m.bin")
        func fresh() -> FileAssembly {
            var assembly = FileAssembly()
            assembly.expect(file: "m.bin", bytes: 600_000)
            return assembly
        }
        var unasked = FileAssembly()
        guard case .refused(let reason) = unasked.on(parts[0]) else {
            Issue.record("unasked file taken")
            return
        }
        #expect(reason.contains("no step asked for"))

        var wrongSize = fresh()
        var bigger = parts[0]
        bigger.totalBytes = 1 << 40
        guard case .refused = wrongSize.on(bigger) else {
            Issue.record("wrong size taken")
            return
        }
        #expect(!wrongSize.awaits("m.bin"))

        var outOfOrder = fresh()
        guard case .refused = outOfOrder.on(parts[1]) else {
            Issue.record("second part first taken")
            return
        }

        var oversized = fresh()
        var huge = parts[0]
        huge.data = String(repeating: "A", count: 4 << 20)
        guard case .refused = oversized.on(huge) else {
            Issue.record("oversized part taken")
            return
        }

        var notBase64 = fresh()
        var garbled = parts[0]
        garbled.data = "%%%"
        guard case .refused = notBase64.on(garbled) else {
            Issue.record("bad base64 taken")
            return
        }

        var corrupted = fresh()
        var badCRC = parts[1]
        badCRC.crc32c ^= 1
        #expect(corrupted.on(parts[0]) == .partial)
        guard case .refused(let crc) = corrupted.on(badCRC) else {
            Issue.record("bad CRC taken")
            return
        }
        #expect(crc.contains("CRC32C"))
    }
}
