import ClusterCore
import Foundation
import StraitsWire
import Telemetry
import Testing

/// The records as they reach `regions/<region>.jsonl` and `links.jsonl`: the fields of
/// docs/contracts.md, through JSONEncoder, with the time in front.
@Suite("records: the JSON lines")
struct RecordEncodingTests {
    static func object(_ line: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    static func line(_ record: some Encodable & Sendable) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "straits-records-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = try JSONLWriter(path: directory.appendingPathComponent("r.jsonl").path)
        writer.append(encoding: Stamped(record, at: "2026-12-06T12:00:00.000Z"))
        return try String(contentsOfFile: writer.path, encoding: .utf8).trimmingCharacters(in: .newlines)
    }

    @Test("a region record: every contract field, rates over the window, the gateway's when it has one")
    func region() throws {
        var record = RegionRecord(
            kind: .second, region: "us", windowS: 0.5, step: 7, wanTxBytes: 1_000_000, wanRxBytes: 500_000,
            lanTxBytes: 250_000, lanRxBytes: 250_000, samples: 64, computeS: 0.25, commS: 0.125, gateway: nil)
        var fields = try Self.object(try Self.line(record))
        #expect(fields["t"] as? String == "2026-12-06T12:00:00.000Z" && fields["kind"] as? String == "second")
        #expect(
            fields["region"] as? String == "us" && fields["window_s"] as? Double == 0.5 && fields["step"] as? Int == 7)
        #expect(fields["wan_tx_gbps"] as? Double == 0.016 && fields["wan_rx_gbps"] as? Double == 0.008)
        #expect(fields["lan_gbps"] as? Double == 0.004 && fields["samples_per_s"] as? Double == 128)
        #expect(fields["compute_s"] as? Double == 0.25 && fields["comm_s"] as? Double == 0.125)
        #expect(fields["gateway_offered_bytes"] == nil)
        record.gateway = .init(offeredBytes: 3, deliveredBytes: 2, queueDelayMs: 1.5)
        fields = try Self.object(try Self.line(record))
        #expect(fields["gateway_offered_bytes"] as? Int == 3 && fields["wan_queue_delay_ms"] as? Double == 1.5)
        #expect(fields.count == 18)
    }

    @Test("a link record: counted by its gateway with the ranks' arrivals, or unshaped with a null queue delay")
    func link() throws {
        var record = LinkRecord(
            kind: .final, from: "us", to: "eu", windowS: 1, bandwidthBps: 1e9, latencyS: 0.04, offeredBytes: 125_000,
            deliveredBytes: 125_000, shaped: nil)
        var fields = try Self.object(try Self.line(record))
        #expect(fields["shaped"] as? Bool == false && fields["queue_delay_ms"] is NSNull)
        #expect(fields["offered_gbps"] as? Double == 0.001 && fields["utilisation"] == nil)
        record.shaped = .init(
            utilisation: 0.5, queuedBytes: 10, queueDelayMs: 2, queueDelayMaxMs: 4, lateP99Us: 30,
            arrivals: ControlMessage.Arrivals(messages: 9, lateP50Us: 1, lateP99Us: 40, lateMaxUs: 80))
        fields = try Self.object(try Self.line(record))
        #expect(fields["shaped"] as? Bool == true && fields["utilisation"] as? Double == 0.5)
        #expect(fields["queue_delay_max_ms"] as? Double == 4 && fields["late_p99_us"] as? Double == 30)
        #expect(fields["arrivals"] as? Int == 9 && fields["arrival_late_p99_us"] as? Double == 40)
    }
}
