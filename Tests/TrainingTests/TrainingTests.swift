import Collectives
import Config
import Foundation
import Testing

@testable import Training

@Suite struct MLPTests {
    static let spec = try! JobSpec.parse(
        """
        name: t
        kind: train
        steps: 5
        model: { layers: [6, 10, 7, 3] }
        data: { batch: 8, shard: 64, seed: 3 }
        optimizer: { name: sgd, lr: 0.1, momentum: 0.5 }
        schedules:
          - { sync: ddp }
        """, file: "t.yaml"
    ).training!

    @Test func gradientsMatchFiniteDifferences() {
        let replica = Replica(spec: Self.spec, schedule: Self.spec.schedules[0])
        let model = replica.model
        replica.task.fill(rank: 0, step: 0, input: replica.input, target: replica.target)
        let gradients = UnsafeMutablePointer<Float>.allocate(capacity: model.parameterCount)
        defer { gradients.deallocate() }
        var finished: [Int] = []
        _ = model.lossAndGradients(
            replica.parameters, gradients: gradients, input: replica.input, target: replica.target,
            batch: 8, workspace: replica.workspace, layerDone: { finished.append($0) })
        #expect(finished == [2, 1, 0])
        var worst = 0.0
        for i in stride(from: 0, to: model.parameterCount, by: 7) {
            let saved = replica.parameters[i]
            let h: Float = 1e-2
            replica.parameters[i] = saved + h
            let up = model.loss(
                replica.parameters, input: replica.input, target: replica.target, batch: 8, workspace: replica.workspace
            )
            replica.parameters[i] = saved - h
            let down = model.loss(
                replica.parameters, input: replica.input, target: replica.target, batch: 8, workspace: replica.workspace
            )
            replica.parameters[i] = saved
            let numeric = (up - down) / Double(2 * h)
            worst = max(worst, abs(numeric - Double(gradients[i])) / max(1e-2, abs(numeric)))
        }
        #expect(worst < 0.05, "largest relative gradient error \(worst)")
    }

    @Test func parameterCountAndBackwardOrder() {
        let model = MLP(layers: Self.spec.model.layers)
        #expect(model.parameterCount == 6 * 10 + 10 + 10 * 7 + 7 + 7 * 3 + 3)
        let tensors = model.tensorsInBackwardOrder
        #expect(tensors.first! == (offset: model.parameterCount - 3, count: 3))
        #expect(tensors.last! == (offset: 0, count: 60))
        #expect(tensors.reduce(0) { $0 + $1.count } == model.parameterCount)
    }

    @Test func referenceTrainingLearns() {
        let trainer = ReferenceTrainer(spec: Self.spec, ranks: 2)
        let losses = trainer.train(steps: 60)
        #expect(losses.last! < 0.7 * losses.first!, "loss \(losses.first!) → \(losses.last!)")
    }

    @Test func unionGradientIsTheMeanOfShardGradients() {
        // What data parallelism relies on: the gradient over the union of equal shards equals the
        // mean of the shards' gradients.
        let union = ReferenceTrainer(spec: Self.spec, ranks: 3)
        let model = union.replica.model
        let batch = 8
        for rank in 0..<3 {
            union.replica.task.fill(
                rank: rank, step: 0, input: union.replica.input + rank * batch * 6,
                target: union.replica.target + rank * batch * 3)
        }
        let all = UnsafeMutablePointer<Float>.allocate(capacity: model.parameterCount)
        let one = UnsafeMutablePointer<Float>.allocate(capacity: model.parameterCount)
        var mean = [Double](repeating: 0, count: model.parameterCount)
        defer {
            all.deallocate()
            one.deallocate()
        }
        _ = model.lossAndGradients(
            union.replica.parameters, gradients: all, input: union.replica.input, target: union.replica.target,
            batch: 3 * batch, workspace: union.replica.workspace)
        let shard = Replica(spec: Self.spec, schedule: Self.spec.schedules[0])
        for rank in 0..<3 {
            shard.task.fill(rank: rank, step: 0, input: shard.input, target: shard.target)
            _ = model.lossAndGradients(
                shard.parameters, gradients: one, input: shard.input, target: shard.target, batch: batch,
                workspace: shard.workspace)
            for i in 0..<model.parameterCount { mean[i] += Double(one[i]) / 3 }
        }
        for i in 0..<model.parameterCount { #expect(abs(Double(all[i]) - mean[i]) <= 1e-5 * max(1, abs(mean[i]))) }
    }

    @Test func nesterovWithoutMomentumAverages() {
        let outer = OuterOptimizer(learningRate: 1, momentum: 0, count: 3)
        var global: [Float] = [1, 2, 3]
        let delta: [Float] = [0.5, -1, 0]
        global.withUnsafeMutableBufferPointer { g in
            delta.withUnsafeBufferPointer { outer.step(g.baseAddress!, pseudoGradient: $0.baseAddress!) }
        }
        #expect(global == [0.5, 3, 3])
    }
}

@Suite struct WireCodecTests {
    static func roundTrip(_ format: WireCodec.Format, _ values: [Float]) -> (decoded: [Float], bytes: [UInt8]) {
        var source = values
        var bytes = [UInt8](repeating: 0, count: WireCodec.encodedSize(format, count: values.count))
        source.withUnsafeMutableBytes { s in
            bytes.withUnsafeMutableBytes {
                WireCodec.encode(format, from: s.baseAddress!, count: values.count, into: $0.baseAddress!)
            }
        }
        var decoded = [Float](repeating: 0, count: values.count)
        bytes.withUnsafeBytes { b in
            decoded.withUnsafeMutableBytes {
                WireCodec.decode(
                    format, from: b.baseAddress!, count: values.count, into: $0.baseAddress!, accumulate: false)
            }
        }
        return (decoded, bytes)
    }

    static let values: [Float] = {
        var random = GaussianSource(seed: 9)
        return (0..<1000).map { i in random.next() * (i % 300 == 0 ? 40 : 1) } + [0, 0, 0]
    }()

    @Test(arguments: WireCodec.Format.allCases)
    func errorIsBoundedAndEncodingIsIdempotent(format: WireCodec.Format) {
        let (once, bytes) = Self.roundTrip(format, Self.values)
        let (twice, again) = Self.roundTrip(format, once)
        #expect(twice == once, "decoding then encoding again must not change a value")
        #expect(again == bytes)
        let tolerance: Float =
            switch format {
            case .float32: 0
            case .float16: 1e-3
            case .bfloat16: 8e-3
            case .int8: 1.0 / 127  // of the block's largest value
            }
        for block in stride(from: 0, to: Self.values.count, by: WireCodec.blockElements) {
            let range = block..<min(block + WireCodec.blockElements, Self.values.count)
            let largest = range.map { abs(Self.values[$0]) }.max()!
            for i in range {
                let scale = format == .int8 ? largest : max(abs(Self.values[i]), 1e-3)
                #expect(
                    abs(once[i] - Self.values[i]) <= tolerance * scale,
                    "\(format) value \(i): \(Self.values[i]) → \(once[i])")
            }
        }
        #expect(bytes.count == WireCodec.encodedSize(format, count: Self.values.count))
    }

    @Test func goldenInt8PayloadDecodes() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Protocols/golden/data-frame-int8.hex")
        let line = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")[1]
        let payload = stride(from: 0, to: line.count, by: 2).map { UInt8(line.dropFirst($0).prefix(2), radix: 16)! }
        var values = [Float](repeating: 0, count: 8)
        payload.withUnsafeBytes { p in
            values.withUnsafeMutableBytes {
                WireCodec.decode(.int8, from: p.baseAddress!, count: 8, into: $0.baseAddress!, accumulate: false)
            }
        }
        #expect(values == [32, -32, 0, 127, -127, 1, 64, 3].map { Float($0) / 32 })
        // And the values encode back to the same bytes.
        var encoded = [UInt8](repeating: 0, count: 9)
        values.withUnsafeMutableBytes { v in
            encoded.withUnsafeMutableBytes {
                WireCodec.encode(.int8, from: v.baseAddress!, count: 8, into: $0.baseAddress!)
            }
        }
        #expect(encoded == payload)
    }

    @Test func int8IsAboutAQuarterOfFloat32() {
        let n = 1 << 20
        #expect(
            Double(WireCodec.encodedSize(.float32, count: n)) / Double(WireCodec.encodedSize(.int8, count: n)) > 3.9)
    }

    @Test func errorFeedbackCarriesWhatWasLost() {
        // Over many rounds the sum of what was sent tracks the sum of what should have been sent.
        let n = 300
        var residual = [Float](repeating: 0, count: n)
        var sent = [Double](repeating: 0, count: n)
        var truth = [Double](repeating: 0, count: n)
        var random = GaussianSource(seed: 4)
        var bytes = [UInt8](repeating: 0, count: WireCodec.encodedSize(.int8, count: n))
        for _ in 0..<50 {
            var x = (0..<n).map { i in random.next() * (i == 0 ? 100 : 0.01) }
            for i in 0..<n { truth[i] += Double(x[i]) }
            x.withUnsafeMutableBytes { s in
                residual.withUnsafeMutableBufferPointer { r in
                    bytes.withUnsafeMutableBytes {
                        WireCodec.encode(
                            .int8, from: s.baseAddress!, count: n, residual: r.baseAddress!, into: $0.baseAddress!)
                    }
                }
            }
            var decoded = [Float](repeating: 0, count: n)
            bytes.withUnsafeBytes { b in
                decoded.withUnsafeMutableBytes {
                    WireCodec.decode(.int8, from: b.baseAddress!, count: n, into: $0.baseAddress!, accumulate: false)
                }
            }
            for i in 0..<n { sent[i] += Double(decoded[i]) }
        }
        for i in 1..<n { #expect(abs(sent[i] + Double(residual[i]) - truth[i]) < 1e-3) }
    }
}

@Suite struct TrainingSpecTests {
    @Test func parsesSchedulesAndParameterTargets() throws {
        let job = try JobSpec.parse(
            """
            name: cmp
            kind: train
            steps: 100
            model: { input: 32, output: 8, depth: 3, parameters: 1M }
            compute: { device: h100, mfu: 0.5, scale: 1000 }
            schedules:
              - { name: ddp, sync: ddp }
              - { name: diloco, sync: diloco, every: 25, compression: int8, steps: 150 }
            """, file: "cmp.yaml")
        let spec = try #require(job.training)
        #expect(abs(Double(spec.model.parameterCount) / 1e6 - 1) < 0.01)
        #expect(spec.schedules.map(\.name) == ["ddp", "diloco"])
        #expect(
            spec.schedules[1].every == 25 && spec.schedules[1].compression == .int8 && spec.schedules[1].steps == 150)
        #expect(spec.schedules[1].outerLearningRate == 0.7 && spec.schedules[1].outerMomentum == 0.9)
        #expect(spec.compute.synthetic && abs(spec.compute.seconds(flops: 989e12 * 0.5) - 1000) < 1e-6)
    }

    @Test func badFieldsNameFileLineAndField() {
        func error(_ text: String) -> String {
            do {
                _ = try JobSpec.parse(text, file: "bad.yaml")
                return "no error"
            } catch {
                return error.description
            }
        }
        let base = "name: x\nkind: train\nmodel: { layers: [4, 2] }\n"
        #expect(error(base + "schedules:\n  - { sync: dilocco }\n").contains("bad.yaml:5"))
        #expect(error(base + "schedules:\n  - { sync: dilocco }\n").contains("schedules[0].sync"))
        #expect(error(base + "schedules:\n  - { sync: ddp, compresion: int8 }\n").contains("did you mean compression?"))
        #expect(
            error(base + "optimizer: { lr: -1 }\nschedules:\n  - { sync: ddp }\n").contains("bad.yaml:4: optimizer.lr"))
        #expect(error("name: x\nkind: train\nschedules:\n  - { sync: ddp }\n").contains("model"))
        #expect(
            error(base + "compute: { mfu: 0 }\nschedules:\n  - { sync: ddp }\n").contains(
                "bad.yaml:4: compute.mfu: expected a number above 0 and at most 1"))
        #expect(
            error("name: x\nkind: sync\nmodel: { layers: [4, 2] }\n").contains("only a kind: train job takes model"))
    }
}

@Suite("a replica's whole state, saved and loaded")
struct ReplicaStateTests {
    /// `MLPTests.spec`'s model and data under AdamW, and a DiLoCo schedule with outer momentum.
    static let spec = try! JobSpec.parse(
        "name: t\nkind: train\nmodel: { layers: [6, 10, 7, 3] }\ndata: { batch: 8, shard: 64, seed: 3 }\n"
            + "optimizer: { name: adamw, lr: 0.01 }\n"
            + "schedules: [{ sync: ddp }, { sync: diloco, every: 2, outer_momentum: 0.9 }]\n",
        file: "t.yaml"
    ).training!

    /// Trains `replica` `steps` steps on rank 0's data (inner updates; outer every other step).
    static func train(_ replica: Replica, steps: Range<Int>) {
        let model = replica.model
        let gradients = UnsafeMutablePointer<Float>.allocate(capacity: model.parameterCount)
        defer { gradients.deallocate() }
        for step in steps {
            replica.task.fill(rank: 0, step: step, input: replica.input, target: replica.target)
            _ = model.lossAndGradients(
                replica.parameters, gradients: gradients, input: replica.input, target: replica.target,
                batch: spec.data.batch, workspace: replica.workspace)
            replica.inner.step(replica.parameters, gradients: gradients)
            if replica.outer != nil, step % 2 == 1 {
                replica.pseudoGradient(into: gradients)
                replica.applyOuter(gradients)
            }
        }
    }

    static func bits(_ replica: Replica) -> [UInt32] {
        (0..<replica.model.parameterCount).map { replica.parameters[$0].bitPattern }
    }

    @Test(
        "a fresh replica loaded with another's state (parameters, θ_global, AdamW moments and step count, outer velocity) trains on bit for bit as the other does"
    )
    func transferKeepsEveryBit() {
        for schedule in Self.spec.schedules {
            let source = Replica(spec: Self.spec, schedule: schedule)
            Self.train(source, steps: 0..<5)
            let state = UnsafeMutablePointer<Float>.allocate(capacity: source.stateCount)
            defer { state.deallocate() }
            source.save(into: state)
            let count = source.model.parameterCount
            #expect(
                source.stateCount == (schedule.sync == .ddp ? 1 : 2) * count + 2 * count + 1
                    + (schedule.sync == .ddp ? 0 : count))
            let joiner = Replica(spec: Self.spec, schedule: schedule)
            joiner.load(from: state)
            #expect(joiner.inner.steps == 5)
            Self.train(source, steps: 5..<9)
            Self.train(joiner, steps: 5..<9)
            #expect(Self.bits(joiner) == Self.bits(source), "\(schedule.name)")

            // Rolled back to the saved state, the same steps give the same bits again.
            let after = Self.bits(source)
            source.load(from: state)
            Self.train(source, steps: 5..<9)
            #expect(Self.bits(source) == after)
        }
    }
}
