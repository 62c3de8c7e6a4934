import StraitsWire
import Testing

@Suite("bench launcher messages")
struct BenchMessageTests {
    @Test("every message goes through its two frames and back")
    func roundTrip() throws {
        let messages: [BenchMessage] = [
            .hello(.init(worker: 1, endpoints: ["tcp://127.0.0.1:5001", "tcp://127.0.0.1:5002"])),
            .table(.init(endpoints: ["a", "b", "c"])), .probed(.init(alphaS: 5e-5, betaSPerByte: 1e-9)),
            .params(.init(alphaS: 8e-5, betaSPerByte: 2e-9)),
            .result(.init(sizeBytes: 65536, wrong: 0, plan: "rd, chunk 64 KiB", seconds: [1.5e-4, 1.25e-4])), .bye,
            .abort(.init(reason: "worker 1 exited with status 1")),
            .calibrated(.init(lines: ["ring: 8 KiB 30.5 µs, 32 MiB 12.0 ms", "rd: 8 KiB 17.4 µs, 32 MiB 17.6 ms"])),
        ]
        for message in messages {
            let frames = message.encoded()
            #expect(frames[0].count == 8 && Array(frames[0][0..<4]) == Array("STRB".utf8))
            #expect(try BenchMessage(frames: frames) == message)
        }
        #expect(
            String(decoding: BenchMessage.params(.init(alphaS: 0.5, betaSPerByte: 0.25)).encoded()[1], as: UTF8.self)
                == #"{"alpha_s":0.5,"beta_s_per_byte":0.25}"#)
    }

    @Test("another version, a bad envelope, an oversized or malformed body are refused with the reason")
    func refusals() {
        #expect(throws: BenchMessage.DecodeError.versionMismatch(peer: 1, ours: 2)) {
            try BenchMessage(frames: BenchMessage.bye.encoded(version: 1))
        }
        let description = BenchMessage.DecodeError.versionMismatch(peer: 1, ours: 2).description
        #expect(description.contains("version 1") && description.contains("version 2"))
        #expect(throws: BenchMessage.DecodeError.frameCount(1)) { try BenchMessage(frames: [[1, 2]]) }
        #expect(throws: BenchMessage.DecodeError.self) { try BenchMessage(frames: [Array("STRCxxxx".utf8), []]) }
        var unknown = BenchMessage.bye.encoded()
        unknown[0][6] = 99
        #expect(throws: BenchMessage.DecodeError.self) { try BenchMessage(frames: unknown) }
        var big = BenchMessage.bye.encoded()
        big[1] = [UInt8](repeating: 32, count: BenchMessage.maximumBodyBytes + 1)
        #expect(throws: BenchMessage.DecodeError.oversized(BenchMessage.maximumBodyBytes + 1)) {
            try BenchMessage(frames: big)
        }
        var bad = BenchMessage.hello(.init(worker: 0, endpoints: [])).encoded()
        bad[1] = Array(#"{"worker":"zero"}"#.utf8)
        #expect(throws: BenchMessage.DecodeError.self) { try BenchMessage(frames: bad) }
    }
}
