import Foundation
import Telemetry
import Testing

/// Step and bench records as they reach `steps.jsonl` and `bench.jsonl`: every field of
/// docs/contracts.md, through JSONEncoder.
@Suite("telemetry: step and bench records")
struct RecordTypesTests {
    static func line(_ record: some Encodable & Sendable) throws -> [String: Any] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "straits-records-\(UUID().uuidString).jsonl"
        ).path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try JSONLWriter(path: path)
        writer.append(encoding: Stamped(record, at: "2026-12-06T12:00:00.000Z"))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasSuffix("}\n") && text.filter { $0 == "\n" }.count == 1)
        return try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    static let step = StepRecord(
        step: 3, rank: 5, region: "eu", host: 1, device: 1, bytes: 4096, computeS: 0.25, commS: 0.5, hostS: 0.125,
        regionS: 0.125, wanS: 0.25, syncS: 0.0625, checkS: 0, waitS: 0.03125, wrong: 0, loss: nil, plan: "hier")

    @Test("a sync step: the common fields, loss null, nothing of training")
    func syncStep() throws {
        let fields = try Self.line(Self.step)
        #expect(fields["t"] as? String == "2026-12-06T12:00:00.000Z" && fields["step"] as? Int == 3)
        #expect(fields["rank"] as? Int == 5 && fields["region"] as? String == "eu" && fields["device"] as? Int == 1)
        #expect(fields["comm_s"] as? Double == 0.5 && fields["wait_s"] as? Double == 0.03125)
        #expect(fields["loss"] is NSNull && fields["plan"] as? String == "hier")
        #expect(fields["schedule"] == nil && fields.count == 18)
    }

    @Test("a training step: its schedule fields; a loss that is not finite is null, not a lost line")
    func trainingStep() throws {
        var step = Self.step
        step.loss = .nan
        step.training = .init(
            schedule: "diloco-h20", scheduleStep: 19, wallS: 0.5, gradientSync: "region", outerSync: true, outerS: 0.25,
            emulatedComputeS: nil, lanBytes: 100, wanBytes: 200)
        let fields = try Self.line(step)
        #expect(fields["loss"] is NSNull && fields["schedule"] as? String == "diloco-h20")
        #expect(fields["schedule_step"] as? Int == 19 && fields["gradient_sync"] as? String == "region")
        #expect(fields["outer_sync"] as? Bool == true && fields["emulated_compute_s"] is NSNull)
        #expect(fields["wan_bytes"] as? Int == 200 && fields.count == 27)
    }

    @Test("a bench row: the --json fields; the cluster's model and levels where it has them")
    func bench() throws {
        let row = BenchRow(sizeBytes: 1 << 20, ranks: 4, times: [0.002, 0.001, 0.003], wrong: 0, plan: "ring")
        var fields = try Self.line(BenchRecord(row, algorithm: "ring", transport: "tcp"))
        #expect(fields["size_bytes"] as? Int == 1 << 20 && fields["count"] as? Int == 1 << 18)
        #expect(fields["time_us"] as? Double == 2000 && fields["p99_us"] as? Double == 3000)
        #expect(fields["busbw_gbps"] as? Double == row.busbw && fields["predicted_us"] == nil && fields.count == 12)
        let modelled = BenchRow(sizeBytes: 1 << 20, ranks: 4, times: [0.002], wrong: 0, plan: "hier", predicted: 0.0025)
        fields = try Self.line(
            BenchRecord(
                modelled, algorithm: "hier", transport: "ipc",
                cluster: .init(
                    linkBound: true, linkUtilisation: 0.95, modelCoresBusy: nil, approachArrivals: true,
                    hierarchical: true, rankUs: 1900, hostUs: 100, regionUs: 200, wanUs: 1500, hostBusbwGbps: 1,
                    regionBusbwGbps: 2, wanBusbwGbps: 0.5)))
        #expect(fields["predicted_us"] as? Double == 2500 && fields["ratio"] as? Double == 0.8)
        #expect(fields["link_bound"] as? Bool == true && fields["model_cores_busy"] is NSNull)
        #expect(fields["wan_us"] as? Double == 1500 && fields["approach_arrivals"] as? Bool == true)
        #expect(fields["rank_time_us"] as? Double == 1900)
    }
}
