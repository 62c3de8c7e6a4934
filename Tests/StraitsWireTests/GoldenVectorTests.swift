import Foundation
import StraitsWire
import Testing

/// The golden vectors in Protocols/golden (written by Protocols/generate-golden.py, independently
/// of this code): every one decodes, and re-encodes to the same bytes.
@Suite("wire protocol golden vectors")
struct GoldenVectorTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Protocols/golden")

    static func frames(_ name: String) throws -> [[UInt8]] {
        let text = try String(contentsOf: directory.appendingPathComponent("\(name).hex"), encoding: .utf8)
        return text.split(separator: "\n").map { line in
            stride(from: 0, to: line.count, by: 2).map { offset in
                let start = line.index(line.startIndex, offsetBy: offset)
                return UInt8(line[start..<line.index(start, offsetBy: 2)], radix: 16)!
            }
        }
    }

    @Test(
        "control messages decode and re-encode byte for byte",
        arguments: [
            "control-join", "control-refuse", "control-plan", "control-probe", "control-probed", "control-step",
            "control-step-done", "control-heartbeat", "control-heartbeat-coordinator", "control-stop",
            "control-join-gateway", "control-plan-gateways", "control-heartbeat-gateway", "control-step-train",
            "control-step-done-train", "control-step-timer", "control-model-part", "control-fault", "control-inject",
            "control-kill", "control-step-elastic", "control-step-elastic-diloco",
        ])
    func control(name: String) throws {
        let frames = try Self.frames(name)
        let message = try ControlMessage(frames: frames)
        #expect(message.encoded() == frames, "\(name): \(String(decoding: message.body(), as: UTF8.self))")
    }

    @Test(
        "a plan encoded once for every member is each member's plan, byte for byte",
        arguments: [-1, 0, 1, 7, 1000, 123_456])
    func planFrames(you: Int) throws {
        for name in ["control-plan", "control-plan-gateways"] {
            guard case .plan(var plan) = try ControlMessage(frames: try Self.frames(name)) else {
                Issue.record("\(name) is not a plan")
                return
            }
            let frames = ControlMessage.PlanFrames(plan)
            plan.you = you
            #expect(frames.frames(you: you) == ControlMessage.plan(plan).encoded())
        }
    }

    @Test("decoded fields are the ones the vectors hold")
    func fields() throws {
        guard case .join(let join) = try ControlMessage(frames: try Self.frames("control-join")) else {
            Issue.record("not a join")
            return
        }
        #expect(
            join
                == ControlMessage.Join(
                    region: "us-east", host: 1, devices: 2, numaNodes: 2,
                    endpoints: ["tcp://10.0.0.5:40001", "tcp://10.0.0.5:40002"], pid: 4242))
        guard case .plan(let plan) = try ControlMessage(frames: try Self.frames("control-plan")) else {
            Issue.record("not a plan")
            return
        }
        #expect(plan.workers.map(\.firstRank) == [0, 2] && plan.you == 1 && plan.lan.alphaS == 0.0001)
        guard case .step(let step) = try ControlMessage(frames: try Self.frames("control-step-train")),
            let train = step.train
        else {
            Issue.record("not a training step")
            return
        }
        #expect(step.approachArrivals == nil)
        guard case .fault(let fault) = try ControlMessage(frames: try Self.frames("control-fault")) else {
            Issue.record("control-fault is not a fault")
            return
        }
        #expect(fault == .init(to: "eu-west", state: .degraded, bandwidthBps: 10e6, latencyS: 0.12))
        guard case .modelPart(let part) = try ControlMessage(frames: try Self.frames("control-model-part")) else {
            Issue.record("not a model part")
            return
        }
        #expect(part.file == "model-ddp.bin" && part.offset == 16 && part.totalBytes == 20)
        #expect(part.crc32c == CRC32C.checksum((0..<20).map { UInt8($0) }))
        #expect(Data(base64Encoded: part.data).map(Array.init) == [16, 17, 18, 19])
        guard case .step(let bench) = try ControlMessage(frames: try Self.frames("control-step-timer")) else {
            Issue.record("not a step")
            return
        }
        #expect(
            bench
                == ControlMessage.Step(step: 2, bytes: 1 << 20, computeS: 0, collective: 1016, approachArrivals: false))
        #expect(
            train
                == ControlMessage.TrainStep(
                    schedule: 1, index: 3, gradients: .region, outer: true,
                    buckets: [[232448, 131216], [0, 232448]], save: "model-diloco.bin"))
        guard case .stepDone(let done) = try ControlMessage(frames: try Self.frames("control-step-done-train")) else {
            Issue.record("not a step_done")
            return
        }
        #expect(
            done.devices[0].loss == 0.25 && done.devices[0].parametersChecksum == 0xDEAD_BEEF
                && done.devices[0].wanBytes == 363792)
    }

    @Test("a bench step's model-chosen chunk travels as chunk_bytes; a step without one leaves it out")
    func stepChunk() throws {
        let step = ControlMessage.step(
            .init(
                step: 4, bytes: 1 << 20, computeS: 0, collective: 1032, approachArrivals: false,
                chunkBytes: 128 << 10))
        let body = String(decoding: step.body(), as: UTF8.self)
        #expect(body.contains("\"chunk_bytes\":131072"), "\(body)")
        #expect(try ControlMessage(frames: step.encoded()) == step)
        let plain = ControlMessage.step(.init(step: 4, bytes: 1 << 20, computeS: 0, collective: 1032))
        #expect(!String(decoding: plain.body(), as: UTF8.self).contains("chunk_bytes"))
        guard case .step(let decoded) = try ControlMessage(frames: plain.encoded()) else {
            Issue.record("not a step")
            return
        }
        #expect(decoded.chunkBytes == nil)
    }

    @Test("a peer of another protocol version is refused with both versions named; its refusal still reads")
    func version() throws {
        #expect(throws: ControlMessage.DecodeError.versionMismatch(peer: 2, ours: 1)) {
            try ControlMessage(frames: try Self.frames("control-join-v2"))
        }
        #expect(
            ControlMessage.DecodeError.versionMismatch(peer: 2, ours: 1).description
                == "peer speaks control protocol version 2, this build speaks version 1")
        var refusal = try Self.frames("control-refuse")
        refusal[0][4] = 9  // version 9
        guard case .refuse(let refuse) = try ControlMessage(frames: refusal) else {
            Issue.record("refuse of another version does not decode")
            return
        }
        #expect(refuse.reason.contains("version 2"))
    }

    @Test("malformed control messages are refused with what is wrong")
    func malformed() throws {
        let step = try Self.frames("control-step")
        #expect(throws: ControlMessage.DecodeError.frameCount(1)) { try ControlMessage(frames: [step[0]]) }
        #expect(throws: ControlMessage.DecodeError.envelopeSize(7)) {
            try ControlMessage(frames: [Array(step[0].prefix(7)), step[1]])
        }
        #expect(throws: ControlMessage.DecodeError.badMagic(0x4352_5400)) {
            try ControlMessage(frames: [[0, 0x54, 0x52, 0x43] + step[0].dropFirst(4), step[1]])
        }
        #expect(throws: ControlMessage.DecodeError.unknownType(77)) {
            try ControlMessage(frames: [ControlMessage.envelope(.join).prefix(6) + [77, 0], step[1]])
        }
        #expect(throws: ControlMessage.DecodeError.oversized(ControlMessage.maximumBodyBytes + 1)) {
            try ControlMessage(frames: [step[0], [UInt8](repeating: 32, count: ControlMessage.maximumBodyBytes + 1)])
        }
        do {
            _ = try ControlMessage(frames: [step[0], Array(step[1].dropLast(5))])
            Issue.record("a truncated body decoded")
        } catch {
            #expect(error.description.hasPrefix("malformed step body:"))
        }
        do {
            _ = try ControlMessage(frames: [step[0], Array(#"{"bytes":1,"collective":2,"compute_s":0}"#.utf8)])
            Issue.record("a body without its step decoded")
        } catch {
            #expect(error.description == "malformed step body: body: missing field step")
        }
        // A rank's timed part may not end before it starts.
        var device = ControlMessage.DeviceStep(
            rank: 0, computeS: 0, commS: 0.1, hostS: 0, regionS: 0, wanS: 0, syncS: 0, checkS: 0, wrong: 0)
        device.startNs = 2_000
        device.endNs = 1_000
        let done = ControlMessage.stepDone(.init(step: 1, plan: "ring", devices: [device], traffic: .init()))
        #expect(done.outOfBounds == "devices[].end_ns 1000 is before start_ns 2000")
        device.endNs = 3_000
        #expect(
            ControlMessage.stepDone(.init(step: 1, plan: "ring", devices: [device], traffic: .init())).outOfBounds
                == nil)
    }

    @Test("data frame headers decode and re-encode; the CRC32C matches the payload")
    func dataFrames() throws {
        let plain = try Self.frames("data-frame")
        let header = try plain[0].withUnsafeBytes { try DataFrameHeader(decoding: $0) }
        #expect(header.encoded == plain[0])
        #expect(header.sourceRank == 3 && header.step == 9 && header.collectiveID == 1001 && header.epoch == 7)
        #expect(header.offsetBytes == 4096 && header.lengthBytes == 16 && header.flags == 0)

        let checked = try Self.frames("data-frame-checksummed")
        let checkedHeader = try checked[0].withUnsafeBytes { try DataFrameHeader(decoding: $0) }
        #expect(checkedHeader.encoded == checked[0])
        #expect(checkedHeader.flags & DataFrameHeader.Flags.checksummed != 0)
        #expect(CRC32C.checksum(checked[1]) == checkedHeader.crc32c)
    }

    @Test("an int8 data frame: the header says what the payload stands for; the payload decodes to q·2^e")
    func int8Frame() throws {
        let frames = try Self.frames("data-frame-int8")
        let header = try frames[0].withUnsafeBytes { try DataFrameHeader(decoding: $0) }
        #expect(header.encoded == frames[0])
        #expect(header.dtype == .int8 && header.lengthBytes == 32 && frames[1].count == 9)
        #expect(CRC32C.checksum(frames[1]) == header.crc32c)
    }

    @Test("CRC32C: the standard check value, chunked the same as whole, every length")
    func crc() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = CRC32C.checksum(bytes)
        let split = bytes.withUnsafeBytes { raw in
            CRC32C.checksum(
                UnsafeRawBufferPointer(rebasing: raw[333...]),
                continuing: CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[..<333])))
        }
        #expect(whole == split)
        // Against a bitwise reference for lengths 0…64 (every tail length of the 8-byte loop).
        for length in 0...64 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes.prefix(length) {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            }
            #expect(CRC32C.checksum(Array(bytes.prefix(length))) == ~crc, "length \(length)")
        }
    }
}
