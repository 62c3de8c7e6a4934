import ClusterCore
import Config
import Emulation
import StraitsWire
import Testing

/// The per-second, per-step and final records under a manual clock: each holds exactly what
/// changed since the one before.
@Suite("records: accumulation, manual clock")
struct RecordAccumulatorTests {
    static let second: Int64 = 1_000_000_000

    static func cluster(gateways: Bool) -> Membership {
        var membership = Membership(
            topology: MembershipTests.topology, timing: MembershipTests.timing, gateways: gateways, now: 0)
        _ = membership.onJoin(MembershipTests.worker("us", 0), route: [1], now: 0)
        _ = membership.onJoin(MembershipTests.worker("us", 1), route: [2], now: 0)
        _ = membership.onJoin(MembershipTests.worker("eu", 0), route: [3], now: 0)
        if gateways {
            _ = membership.onJoin(MembershipTests.gateway("us"), route: [4], now: 0)
            _ = membership.onJoin(MembershipTests.gateway("eu"), route: [5], now: 0)
        }
        membership.closeAdmission()
        return membership
    }

    static func report(
        _ membership: inout Membership, worker: Int, wanTx: [String: Int], wanRx: [String: Int], lan: Int,
        computeS: Double, steps: Int
    ) {
        var traffic = ControlMessage.Traffic()
        traffic.wanTxBytes = wanTx
        traffic.wanRxBytes = wanRx
        traffic.lanTxBytes = lan
        traffic.lanRxBytes = lan
        membership[.worker(worker)].report.traffic = traffic
        membership[.worker(worker)].report.computeS = computeS
        membership[.worker(worker)].report.stepsDone = steps
    }

    @Test("a record a second, each holding what changed since the last, rates over the window")
    func perSecond() {
        let clock = ManualClock()
        var membership = Self.cluster(gateways: false)
        var records = RecordAccumulator(topology: MembershipTests.topology, samplesPerStep: 32, now: clock.now())
        clock.advance(by: Self.second - 1)
        #expect(records.onTick(now: clock.now(), membership: membership, latestStep: 0) == nil)
        #expect(records.nextRecordDue == Self.second)

        Self.report(
            &membership, worker: 0, wanTx: ["eu": 1_000_000], wanRx: ["eu": 500_000], lan: 2_000, computeS: 0.5,
            steps: 10)
        Self.report(
            &membership, worker: 1, wanTx: ["eu": 1_000_000], wanRx: ["eu": 500_000], lan: 2_000, computeS: 0.5,
            steps: 10)
        Self.report(
            &membership, worker: 2, wanTx: ["us": 1_000_000], wanRx: ["us": 2_000_000], lan: 0, computeS: 0.5, steps: 10
        )
        clock.advance(by: 1)
        let first = records.onTick(now: clock.now(), membership: membership, latestStep: 9)
        let us = first?.0.first { $0.region == "us" }
        #expect(us?.kind == .second && us?.windowS == 1 && us?.step == 9)
        #expect(us?.wanTxBytes == 2_000_000 && us?.wanRxBytes == 1_000_000 && us?.lanTxBytes == 4_000)
        #expect(us?.wanTxGbps == 0.016 && us?.lanGbps == 0.000032)
        // 10 steps on each of 2 hosts × 2 devices × 32 samples; compute per device.
        #expect(us?.samples == 10 * 2 * 2 * 32 && us?.samplesPerS == 1280)
        #expect(us?.computeS == 0.25 && us?.gateway == nil)
        // Links without gateways: what the workers sent and received.
        let usToEU = first?.1.first { $0.from == "us" && $0.to == "eu" }
        #expect(usToEU?.offeredBytes == 2_000_000 && usToEU?.deliveredBytes == 2_000_000 && usToEU?.shaped == nil)

        // Half a second later, the last record: only what changed.
        Self.report(
            &membership, worker: 0, wanTx: ["eu": 1_500_000], wanRx: ["eu": 500_000], lan: 2_000, computeS: 0.75,
            steps: 12)
        clock.advance(by: Self.second / 2)
        #expect(records.onTick(now: clock.now(), membership: membership, latestStep: 11) == nil)
        let (regions, links) = records.records(now: clock.now(), membership: membership, latestStep: 11, kind: .final)
        let last = regions.first { $0.region == "us" }
        #expect(last?.kind == .final && last?.windowS == 0.5 && last?.wanTxBytes == 500_000 && last?.wanRxBytes == 0)
        #expect(last?.samples == (2 / 2) * 2 * 2 * 32 && last?.computeS == 0.0625)
        #expect(links.first { $0.from == "us" }?.offeredBytes == 500_000)
        // No time has passed: nothing more to record.
        #expect(records.records(now: clock.now(), membership: membership, latestStep: 11, kind: .final).0.isEmpty)
    }

    @Test("with gateways, links are counted by the gateway that shapes them, arrivals by the ranks that took them")
    func shapedLinks() {
        var membership = Self.cluster(gateways: true)
        var records = RecordAccumulator(topology: MembershipTests.topology, samplesPerStep: 1, now: 0)
        func stats(offered: Int, delivered: Int, messages: Int, busyS: Double, delayS: Double)
            -> ControlMessage.LinkStats
        {
            .init(
                to: "eu", offeredBytes: offered, deliveredBytes: delivered, queuedBytes: offered - delivered,
                deliveredMessages: messages,
                busyS: busyS, queueDelaySSum: delayS, queueDelaySMax: 0.004, lateP99Us: 30, lateMaxUs: 90)
        }
        membership[.gateway(region: 0)].report.links = [
            stats(offered: 3_000, delivered: 2_000, messages: 4, busyS: 0.5, delayS: 0.5)
        ]
        var traffic = ControlMessage.Traffic()
        traffic.arrivals = ["us": .init(messages: 4, lateP50Us: 10, lateP99Us: 40, lateMaxUs: 80)]
        membership[.worker(2)].report.traffic = traffic
        let (regions, links) = records.records(now: Self.second, membership: membership, latestStep: 0, kind: .second)
        let link = links.first { $0.from == "us" && $0.to == "eu" }
        #expect(link?.offeredBytes == 3_000 && link?.deliveredBytes == 2_000)
        #expect(
            link?.shaped?.utilisation == 0.5 && link?.shaped?.queuedBytes == 1_000 && link?.shaped?.queueDelayMs == 125)
        #expect(link?.shaped?.arrivals == .init(messages: 4, lateP50Us: 10, lateP99Us: 40, lateMaxUs: 80))
        #expect(
            regions.first { $0.region == "us" }?.gateway
                == .init(offeredBytes: 3_000, deliveredBytes: 2_000, queueDelayMs: 125))
        // The eu gateway reported nothing: its link is counted as unshaped.
        #expect(links.first { $0.from == "eu" }?.shaped == nil)

        membership[.gateway(region: 0)].report.links = [
            stats(offered: 5_000, delivered: 5_000, messages: 6, busyS: 0.75, delayS: 0.75)
        ]
        let (next, nextLinks) = records.records(
            now: 2 * Self.second, membership: membership, latestStep: 1, kind: .second)
        let second = nextLinks.first { $0.from == "us" && $0.to == "eu" }
        #expect(second?.offeredBytes == 2_000 && second?.deliveredBytes == 3_000 && second?.shaped?.utilisation == 0.25)
        #expect(second?.shaped?.queueDelayMs == 125)
        #expect(
            next.first { $0.region == "us" }?.gateway
                == .init(offeredBytes: 2_000, deliveredBytes: 3_000, queueDelayMs: 125))
    }

    @Test("a step's region records: traffic since the step before, compute and communication per device")
    func perStep() {
        var membership = Self.cluster(gateways: false)
        var records = RecordAccumulator(topology: MembershipTests.topology, samplesPerStep: 8, now: 0)
        Self.report(&membership, worker: 2, wanTx: ["us": 4_096], wanRx: ["us": 1_024], lan: 0, computeS: 0, steps: 1)
        var sums = StepTally.RegionSums()
        sums.computeS = 0.4
        sums.commS = 0.2
        sums.devices = 2
        let first = records.onStep(0, wallS: 0.5, membership: membership, regionSums: [1: sums])
        #expect(first.map(\.region) == ["us", "eu"])
        #expect(
            first[1].kind == .step && first[1].wanTxBytes == 4_096 && first[1].samples == 16
                && first[1].samplesPerS == 32)
        #expect(first[1].computeS == 0.2 && first[1].commS == 0.1)
        // A region with no devices reported counts one device's samples, and no compute.
        #expect(first[0].samples == 8 && first[0].computeS == 0)
        Self.report(&membership, worker: 2, wanTx: ["us": 5_000], wanRx: ["us": 1_024], lan: 0, computeS: 0, steps: 2)
        let second = records.onStep(1, wallS: 0.25, membership: membership, regionSums: [1: sums])
        #expect(second[1].wanTxBytes == 904 && second[1].wanRxBytes == 0 && second[1].step == 1)
    }
}
