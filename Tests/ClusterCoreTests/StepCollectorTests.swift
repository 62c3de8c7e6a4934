import ClusterCore
import StraitsWire
import Testing

@Suite("step collection and tally")
struct StepCollectorTests {
    static func device(
        _ rank: Int, comm: Double, wan: Double = 0, wrong: Int = 0, loss: Double? = nil, wanBytes: Int? = nil
    )
        -> ControlMessage.DeviceStep
    {
        var step = ControlMessage.DeviceStep(
            rank: rank, computeS: 0.5, commS: comm, hostS: comm / 4, regionS: comm / 2, wanS: wan,
            syncS: 0, checkS: 0, wrong: wrong)
        step.loss = loss
        step.wanBytes = wanBytes
        return step
    }

    static func done(_ step: Int, _ devices: [ControlMessage.DeviceStep], plan: String = "ring")
        -> ControlMessage.StepDone
    {
        .init(step: step, plan: plan, devices: devices, traffic: .init())
    }

    @Test("one result per worker for the step in flight; others are dropped with the reason")
    func collection() {
        var steps = StepCollector(workers: 3)
        #expect(
            steps.onStepDone(Self.done(0, []), worker: 0, label: "us/host 0")
                == .dropped(reason: "step_done for step 0 from us/host 0 (running step -1)"))
        steps.begin(step: 4)
        #expect(
            steps.onStepDone(Self.done(3, []), worker: 0, label: "us/host 0")
                == .dropped(reason: "step_done for step 3 from us/host 0 (running step 4)"))
        #expect(
            steps.onStepDone(Self.done(4, []), worker: nil, label: "eu/host 9")
                == .dropped(reason: "step_done for step 4 from eu/host 9 (running step 4)"))
        #expect(steps.onStepDone(Self.done(4, []), worker: 2, label: "eu/host 0") == .accepted(complete: false))
        #expect(
            steps.onStepDone(Self.done(4, []), worker: 2, label: "eu/host 0")
                == .dropped(reason: "a second step_done for step 4 from eu/host 0"))
        #expect(steps.missing == [0, 1])
        #expect(steps.onStepDone(Self.done(4, []), worker: 0, label: "us/host 0") == .accepted(complete: false))
        #expect(steps.onStepDone(Self.done(4, []), worker: 1, label: "us/host 1") == .accepted(complete: true))
        #expect(steps.isComplete && steps.missing.isEmpty)
        steps.begin(step: 5)
        #expect(!steps.isComplete && steps.results.isEmpty && steps.missing == [0, 1, 2])
    }

    @Test("a tally takes the slowest rank per level and sums the rest per region")
    func tally() {
        let results: [Int: ControlMessage.StepDone] = [
            1: Self.done(
                0,
                [
                    Self.device(2, comm: 0.375, wan: 0.25, loss: 1.5, wanBytes: 100),
                    Self.device(3, comm: 0.125, loss: 0.5, wanBytes: 50),
                ],
                plan: "hier"),
            0: Self.done(
                0, [Self.device(0, comm: 0.25, wrong: 2, loss: 1.0), Self.device(1, comm: 0.5, wan: 0.125, loss: 2.0)]),
        ]
        let tally = StepTally(results: results) { $0 == 0 ? 0 : 1 }
        #expect(tally.commS == 0.5 && tally.hostS == 0.125 && tally.regionS == 0.25 && tally.wanS == 0.25)
        #expect(tally.wrong == 2 && tally.plan == "hier")
        #expect(tally.losses.map(\.rank) == [0, 1, 2, 3] && tally.losses.map(\.loss) == [1.0, 2.0, 1.5, 0.5])
        #expect(tally.wanBytes == 150 && tally.regionWanBytes == [0: 0, 1: 150] && tally.lanBytes == 0)
        #expect(tally.regionSums[0]?.devices == 2 && tally.regionSums[0]?.computeS == 1.0)
        #expect(tally.regionSums[1]?.commS == 0.5)
        #expect(tally.makespanS == nil)  // no rank said when it started
    }

    @Test("the makespan runs from the earliest start of any rank to the latest end, in cluster time")
    func makespan() {
        func timed(_ rank: Int, _ start: Int, _ end: Int, comm: Double) -> ControlMessage.DeviceStep {
            var device = Self.device(rank, comm: comm)
            device.startNs = start
            device.endNs = end
            return device
        }
        // Rank 1 starts 30 ms after rank 0 (it left the barrier a latency later) and ends last.
        let results: [Int: ControlMessage.StepDone] = [
            0: Self.done(0, [timed(0, 1_000_000_000, 1_250_000_000, comm: 0.25)]),
            1: Self.done(0, [timed(1, 1_030_000_000, 1_290_000_000, comm: 0.26)]),
        ]
        let tally = StepTally(results: results) { $0 }
        #expect(tally.makespanS == 0.29 && tally.commS == 0.26)
        var partial = results
        partial[1] = Self.done(0, [Self.device(1, comm: 0.26)])
        #expect(StepTally(results: partial) { $0 }.makespanS == nil)
    }
}

@Suite("link calibration: what is probed, and what the planner takes")
struct LinkCalibrationTests {
    static func link(_ alphaUs: Double, _ gbps: Double, cpu: Double? = nil) -> ControlMessage.LinkParameters {
        .init(alphaS: alphaUs * 1e-6, betaSPerByte: 1 / (gbps * 1e9), cpuPerMessageS: cpu)
    }

    @Test("LAN pairs per region, then WAN pairs; slowest for the planner, fastest LAN for the model")
    func probes() {
        var calibration = LinkCalibration(workersByRegion: [[0, 1], [2, 3], [4]], gateways: true)
        #expect(calibration.probes.map(\.kind) == [.lan, .lan, .wan, .wan, .wan])
        #expect(calibration.probes.map(\.from) == [0, 2, 0, 0, 2] && calibration.probes.map(\.to) == [1, 3, 2, 4, 4])
        #expect(calibration.probes.map(\.collective) == [1, 129, 257, 385, 513])
        #expect(!calibration.lanAssumed)
        for link in [
            Self.link(50, 2, cpu: 1e-5), Self.link(80, 1, cpu: 3e-5), Self.link(1000, 0.1), Self.link(2000, 0.2),
            Self.link(500, 0.05),
        ] {
            #expect(calibration.next != nil)
            calibration.onProbed(link)
        }
        #expect(calibration.next == nil)
        let result = calibration.result
        func bare(_ link: ControlMessage.LinkParameters) -> ControlMessage.LinkParameters {
            .init(alphaS: link.alphaS, betaSPerByte: link.betaSPerByte)
        }
        #expect(result.lan == bare(Self.link(80, 1)))
        #expect(result.hop == bare(Self.link(50, 2)) && result.hopMeasuredAs == "lan")
        #expect(result.wan == .init(alphaS: Self.link(2000, 1).alphaS, betaSPerByte: Self.link(1, 0.05).betaSPerByte))
        #expect(result.cpuPerMessageS == [1e-5, 3e-5])
    }

    @Test("one host per region: a direct hop stands in with gateways; without them the LAN is assumed")
    func oneHostPerRegion() {
        var hop = LinkCalibration(workersByRegion: [[0], [1]], gateways: true)
        #expect(
            hop.probes == [
                .init(kind: .hop, from: 0, to: 1, direct: true, collective: 1),
                .init(kind: .wan, from: 0, to: 1, direct: false, collective: 129),
            ])
        hop.onProbed(Self.link(60, 1.5, cpu: 2e-5))
        hop.onProbed(Self.link(40_000, 0.1))
        #expect(
            hop.result.lan == Self.link(60, 1.5, cpu: 2e-5) && hop.result.hopMeasuredAs == "hop"
                && hop.result.cpuPerMessageS == [2e-5])

        var direct = LinkCalibration(workersByRegion: [[0], [1]], gateways: false)
        #expect(direct.probes.map(\.kind) == [.wan] && direct.lanAssumed)
        direct.onProbed(Self.link(100, 1))
        #expect(direct.result.lan == LinkCalibration.assumedLAN && direct.result.hopMeasuredAs == "assumed")
        #expect(LinkCalibration(workersByRegion: [[0]], gateways: true).probes.isEmpty)
    }
}

@Suite("worker command queue")
struct WorkerCommandQueueTests {
    static let probe = ControlMessage.Probe(peerWorker: 1, lead: true, collective: 1)
    static let step = ControlMessage.Step(step: 0, bytes: 1024, computeS: 0, collective: 1 << 20)

    @Test("commands run one at a time in the order they came; results go back as directed")
    func order() {
        var queue = WorkerCommandQueue()
        #expect(queue.onCommand(.probe(Self.probe)) == [.post(.probe(Self.probe))])
        #expect(queue.onCommand(.step(Self.step)).isEmpty)
        #expect(queue.queued == 1 && queue.running == .probe(Self.probe))
        let link = ControlMessage.LinkParameters(alphaS: 1e-4, betaSPerByte: 1e-9)
        #expect(
            queue.onFinished([.probed(link), .done]) == [
                .sendProbed(.init(peerWorker: 1, link: link)), .post(.step(Self.step)),
            ])
        let device = ControlMessage.DeviceStep(
            rank: 0, computeS: 0.25, commS: 0.5, hostS: 0, regionS: 0, wanS: 0, syncS: 0, checkS: 0, wrong: 0)
        #expect(
            queue.onFinished([.stepped(device), .stepped(device)]) == [.sendStepDone(Self.step, [device, device])])
        #expect(queue.running == nil && queue.stepsDone == 1 && queue.computeS == 0.5 && queue.commS == 1.0)
        #expect(queue.onFinished([]).isEmpty)
    }

    @Test("the follower side of a probe reports nothing")
    func follower() {
        var queue = WorkerCommandQueue()
        let follower = ControlMessage.Probe(peerWorker: 0, lead: false, collective: 1)
        _ = queue.onCommand(.probe(follower))
        #expect(queue.onFinished([.probed(.init(alphaS: 1, betaSPerByte: 1))]).isEmpty)
    }

    @Test(
        "a new membership epoch drops the commands not yet begun; a step the devices gave up reports nothing, and the new plan runs next"
    )
    func superseded() {
        var queue = WorkerCommandQueue()
        let retry = ControlMessage.Step(step: 1, bytes: 1024, computeS: 0, collective: 1 << 20)
        _ = queue.onCommand(.step(Self.step))
        _ = queue.onCommand(.step(retry))
        queue.supersede()
        #expect(queue.queued == 0 && queue.running == .step(Self.step))
        let plan = ControlMessage.Plan(
            epoch: 2, you: 0, regions: ["r"], devicesPerWorker: 2, workers: [], algo: .ring, chunkBytes: 0,
            maxBytes: 1024, checksums: false, timeoutS: 1, lan: .init(alphaS: 0, betaSPerByte: 0),
            wan: .init(alphaS: 0, betaSPerByte: 0))
        #expect(queue.onCommand(.connect(plan)).isEmpty)
        let device = ControlMessage.DeviceStep(
            rank: 0, computeS: 0, commS: 0, hostS: 0, regionS: 0, wanS: 0, syncS: 0, checkS: 0, wrong: 0)
        // One device finished before it heard, the other gave up: the step is given up.
        #expect(queue.onFinished([.stepped(device), .superseded]) == [.post(.connect(plan))])
        #expect(queue.stepsDone == 0)
    }
}
