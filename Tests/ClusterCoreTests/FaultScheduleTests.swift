import ClusterCore
import Config
import StraitsWire
import Testing

/// The job's link faults under a manual clock: when each begins and ends, on which links, and
/// what the gateways are told.
@Suite("link faults: when each begins and ends, manual clock")
struct FaultScheduleTests {
    static let second: Int64 = 1_000_000_000
    static let topology = try! ClusterTopology.parse(
        """
        name: three
        regions:
          - { name: a, hosts: 1 }
          - { name: b, hosts: 1 }
          - { name: c, hosts: 1 }
        links:
          - { between: [a, b], bandwidth: 1Gbps, latency: 10ms }
          - { between: [a, c], bandwidth: 1Gbps, latency: 10ms }
          - { between: [b, c], bandwidth: 1Gbps, latency: 10ms }
        """, file: "three.yaml")

    static func schedule(_ faults: String) throws -> FaultSchedule {
        let job = try JobSpec.parse("name: j\nfaults:\n" + faults, file: "j.yaml")
        return try FaultSchedule(faults: job.faults, kills: job.kills, topology: topology, file: "j.yaml")
    }

    static func states(_ actions: [FaultSchedule.Action]) -> [String] {
        actions.map { "\($0.from)→\($0.to) \($0.state.rawValue)" }
    }

    @Test("down for a time after the first step, both directions; back up at its end, not a nanosecond before")
    func down() throws {
        var faults = try Self.schedule("  - { link: [a, b], at: 2s, for: 3s, down: true }\n")
        #expect(faults.onTick(now: 100 * Self.second).isEmpty)  // nothing before the first step
        #expect(faults.start(now: 10 * Self.second).isEmpty)
        #expect(faults.nextDeadline == 12 * Self.second)
        #expect(Self.states(faults.onTick(now: 12 * Self.second)) == ["0→1 down", "1→0 down"])
        #expect(faults.onTick(now: 15 * Self.second - 1).isEmpty)
        #expect(Self.states(faults.onTick(now: 15 * Self.second)) == ["0→1 up", "1→0 up"])
        #expect(faults.isDone && faults.nextDeadline == nil)
    }

    @Test("degraded from a step, one direction: the gateway hears the new bandwidth and latency, then restored")
    func degradedAtStep() throws {
        var faults = try Self.schedule(
            "  - { link: [c, a], directed: true, step: 3, for: 1s, bandwidth: 10Mbps, latency: 80ms }\n")
        #expect(faults.onStep(0, now: 0).isEmpty && faults.onStep(2, now: Self.second).isEmpty)
        let begun = faults.onStep(3, now: 2 * Self.second)
        #expect(Self.states(begun) == ["2→0 degraded"])
        #expect(begun[0].bitsPerSecond == 10e6 && begun[0].latencySeconds == 0.080)
        let ended = faults.onTick(now: 3 * Self.second)
        #expect(Self.states(ended) == ["2→0 restored"] && ended[0].bitsPerSecond == nil)
    }

    @Test("flapping: down and up in turn every half period, ending up")
    func flap() throws {
        var faults = try Self.schedule("  - { link: [b, c], directed: true, at: 0s, for: 1.2s, flap: 500ms }\n")
        var seen = faults.start(now: 0).map { (Int64(0), $0.state.rawValue) }
        var now: Int64 = 0
        while now <= 2 * Self.second {
            for action in faults.onTick(now: now) { seen.append((now, action.state.rawValue)) }
            now += Self.second / 100
        }
        #expect(seen.map(\.1) == ["down", "up", "down", "up", "down", "up"])
        #expect(seen.map(\.0) == [0, 250, 500, 750, 1000, 1200].map { $0 * 1_000_000 })
    }

    @Test("a fault of an unknown region, or one that flaps too often, is refused with file, line and field")
    func errors() throws {
        do {
            _ = try Self.schedule("  - { link: [a, z], at: 1s, for: 1s, down: true }\n")
            Issue.record("an unknown region was taken")
        } catch {
            #expect("\(error)" == "j.yaml:3: faults[0].link: topology three has no region \"z\" (regions: a, b, c)")
        }
        #expect(throws: ConfigError.self) {
            try Self.schedule("  - { link: [a, b], at: 1s, for: 100000s, flap: 10ms }\n")
        }
        for (text, message) in [
            (
                "  - { link: [a, b], for: 1s, down: true }\n",
                "j.yaml:3: faults[0].at: give when the fault begins: at (a time after the first step) or step, one of them"
            ),
            (
                "  - { link: [a, b], at: 1s, for: 1s, down: true, flap: 1s }\n",
                "j.yaml:3: faults[0]: a fault is one of down: true, bandwidth and/or latency (degraded), or flap: PERIOD; got down and flap"
            ),
            (
                "  - { link: [a, a], at: 1s, for: 1s, down: true }\n",
                "j.yaml:3: faults[0].link: expected two different region names like [us-east, eu-west], got a list of 2"
            ),
        ] {
            do {
                _ = try JobSpec.parse("name: j\nfaults:\n" + text, file: "j.yaml")
                Issue.record("\(text) was taken")
            } catch {
                #expect("\(error)".hasPrefix(message.prefix(60)), "\(error)")
            }
        }
    }

    @Test(
        "kills: a worker at a step, a gateway and a region at times after the first step, due in time order; link faults in the same list go on as before"
    )
    func kills() throws {
        var faults = try Self.schedule(
            """
              - { kill: worker, region: b, host: 0, step: 4 }
              - { kill: gateway, region: a, at: 2s }
              - { link: [a, c], at: 1s, for: 1s, down: true }
              - { kill: region, region: c, at: 3s }

            """)
        #expect(faults.kills.map(\.target) == [.worker(region: "b", host: 0), .gateway(region: "a"), .region("c")])
        #expect(faults.faults.count == 1)
        #expect(faults.start(now: 0).isEmpty && faults.dueKills(now: 0).isEmpty)
        #expect(faults.nextDeadline == Self.second)
        #expect(Self.states(faults.onTick(now: Self.second)) == ["0→2 down", "2→0 down"])
        #expect(faults.dueKills(now: 2 * Self.second - 1).isEmpty)
        #expect(faults.dueKills(now: 2 * Self.second) == [.init(fault: 1, target: .gateway(region: "a"))])
        #expect(Self.states(faults.onStep(4, now: 2 * Self.second + 5)) == ["0→2 up", "2→0 up"])
        #expect(faults.dueKills(now: 2 * Self.second + 5) == [.init(fault: 0, target: .worker(region: "b", host: 0))])
        #expect(!faults.isDone)
        _ = faults.onTick(now: 3 * Self.second)
        #expect(faults.dueKills(now: 3 * Self.second) == [.init(fault: 2, target: .region("c"))])
        #expect(faults.isDone)
    }

    @Test("a kill of a host or region the topology lacks, or one without a time, is refused with file, line and field")
    func badKills() throws {
        for (text, message) in [
            (
                "  - { kill: worker, region: b, host: 1, step: 2 }\n",
                "j.yaml:3: faults (kill 0).host: region b has 1 hosts (0…0)"
            ),
            (
                "  - { kill: gateway, region: z, at: 1s }\n",
                "j.yaml:3: faults (kill 0).region: topology three has no region \"z\""
            ),
            ("  - { kill: worker, region: b, host: 0 }\n", "j.yaml:3: faults[0].at: give when the kill comes"),
            (
                "  - { kill: gateway, region: b, host: 0, at: 1s }\n",
                "j.yaml:3: faults[0].host: a kill of a gateway names no host"
            ),
            (
                "  - { kill: rack, region: b, at: 1s }\n",
                "j.yaml:3: faults[0].kill: expected one of worker, gateway, region"
            ),
        ] {
            do {
                _ = try Self.schedule(text)
                Issue.record("\(text) was taken")
            } catch {
                #expect("\(error)".hasPrefix(message), "\(error)")
            }
        }
    }

    @Test(
        "a partition cuts every link between its groups, both ways, for its while; straits fault gives a partition, a link fault or a kill, at once unless it says when"
    )
    func partitionAndInjected() throws {
        var faults = try Self.schedule("  - { partition: [[a], [b, c]], at: 1s, for: 2s }\n")
        #expect(faults.faults.count == 2)
        _ = faults.start(now: 0)
        #expect(Self.states(faults.onTick(now: Self.second)) == ["0→1 down", "1→0 down", "0→2 down", "2→0 down"])
        #expect(Self.states(faults.onTick(now: 3 * Self.second)) == ["0→1 up", "1→0 up", "0→2 up", "2→0 up"])

        #expect(try LinkFault.parse("{ partition: [[a, b], [c]], for: 1s }", file: "fault").map(\.to) == ["c", "c"])
        let kill = try KillFault.parse(
            try YAMLParser.parse("{ kill: gateway, region: b }", file: "fault"), file: "fault")
        #expect(kill.target == .gateway(region: "b") && kill.atSeconds == 0)
        let index = try faults.inject(kill: kill, topology: Self.topology, now: 5 * Self.second)
        #expect(faults.dueKills(now: 5 * Self.second) == [.init(fault: index, target: .gateway(region: "b"))])
        #expect(throws: ConfigError.self) {
            try faults.inject(
                kill: KillFault(target: .region("z"), atSeconds: 0, atStep: nil, line: 1), topology: Self.topology,
                now: 0)
        }
        for bad in [
            "{ partition: [[a], [a, b]], for: 1s }", "{ partition: [[a]], for: 1s }", "{ partition: [a, b], for: 1s }",
        ] {
            #expect(throws: ConfigError.self) { try LinkFault.parse(bad, file: "fault") }
        }
    }
}

@Suite("what faults cost: each fault's course and goodput, manual clock")
struct FaultLedgerTests {
    static let second: Int64 = 1_000_000_000

    @Test(
        "a kill is detected and recovered from; a flapping link is in progress from its first change to its last; only undisturbed steps over every host make the fault-free rate"
    )
    func ledger() {
        var ledger = FaultLedger()
        // Two undisturbed steps of 1 s, 100 samples each.
        for step in 0..<2 {
            ledger.attemptBegins(now: Int64(step) * Self.second)
            ledger.stepDone(
                samples: 100, seconds: 1, hosts: 4, fullHosts: 4, retried: false, now: Int64(step + 1) * Self.second)
        }
        // A kill during step 2: detected, the attempt given up, retried over 3 hosts.
        ledger.attemptBegins(now: 2 * Self.second)
        ledger.kill(fault: 0, target: "worker b/1", members: ["b/host 1 (pid 7)"], now: 2 * Self.second)
        ledger.lost("b/host 1 (pid 7)", now: 2 * Self.second + Self.second / 4)
        ledger.attemptGivenUp(seconds: 0.5)
        ledger.attemptBegins(now: 3 * Self.second)
        ledger.recovered("b/host 1 (pid 7)", now: 4 * Self.second)
        ledger.stepDone(samples: 75, seconds: 1, hosts: 3, fullHosts: 4, retried: true, now: 4 * Self.second)
        // A flap over step 3 (down, up, down, up): disturbed although it ends up.
        ledger.attemptBegins(now: 4 * Self.second)
        for (index, active) in [true, false, true, false].enumerated() {
            ledger.linkChange(fault: 2, target: "a → b", active: active, now: 4 * Self.second + Int64(index) * 100)
        }
        ledger.stepDone(samples: 100, seconds: 2, hosts: 4, fullHosts: 4, retried: false, now: 6 * Self.second)

        #expect(ledger.courses.count == 2)
        let kill = ledger.courses[0]
        #expect(kill.kind == "kill" && kill.detectedNs == 2 * Self.second + Self.second / 4)
        #expect(kill.recoveredNs == 4 * Self.second)
        let flap = ledger.courses[1]
        #expect(flap.kind == "link" && flap.beganNs == 4 * Self.second && flap.endedNs == 4 * Self.second + 300)
        #expect(ledger.faultFreeRate == 100)
        #expect(ledger.usefulSamples == 375 && ledger.goodputRate == 62.5)
        #expect(ledger.stepsRetried == 1 && ledger.secondsLost == 0.5)
    }
}
