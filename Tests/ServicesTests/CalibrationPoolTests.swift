import Foundation
import Services
import Testing

@Suite("calibration pool")
struct CalibrationPoolTests {
    @Test("each run models with the median of every run's measurement so far, its own included")
    func median() throws {
        let path = NSTemporaryDirectory() + "straits-pool-\(getpid())-\(UInt64.random(in: 0 ... .max)).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try CalibrationPool(path: path)
        #expect(first.earlier.isEmpty)
        // Alone, a run models with what it measured.
        let one = CalibrationPool.Sample(
            hopAlphaS: 50e-6, hopBetaSPerByte: 0.5e-9, cores: 1.9, reduceSPerByte: 1 / 5e9,
            copySPerByte: 1 / 4e9, checksumSPerByte: 1 / 6e9, messageCPUS: 70e-6)
        #expect(first.pooled(with: one) == one)
        try first.record(one)
        try CalibrationPool(path: path).record(
            .init(hopAlphaS: 40e-6, hopBetaSPerByte: 0.3e-9, cores: 1.3, messageCPUS: 170e-6))
        // The third: each field's median of three (two where the second did not measure it).
        let third = try CalibrationPool(path: path)
        #expect(third.earlier.count == 2 && third.earlier[0] == one)
        let own = CalibrationPool.Sample(
            hopAlphaS: 60e-6, hopBetaSPerByte: 0.4e-9, cores: 1.6, reduceSPerByte: 1 / 6e9,
            copySPerByte: 1 / 5e9, checksumSPerByte: 1 / 7e9, messageCPUS: 90e-6)
        let pooled = third.pooled(with: own)
        #expect(
            pooled.hopAlphaS == 50e-6 && pooled.hopBetaSPerByte == 0.4e-9 && pooled.cores == 1.6
                && pooled.messageCPUS == 90e-6)
        #expect(pooled.reduceSPerByte == (1 / 5e9 + 1 / 6e9) / 2 && pooled.copySPerByte == (1 / 4e9 + 1 / 5e9) / 2)
    }

    @Test("a line that is not a calibration record is an error naming the file and line")
    func malformed() throws {
        let path = NSTemporaryDirectory() + "straits-pool-\(getpid())-\(UInt64.random(in: 0 ... .max)).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "{\"cores\":1.5}\nnot json\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: (any Error).self) { try CalibrationPool(path: path) }
        #expect("\(error!)".contains("\(path):2: not a calibration record"))
    }
}
