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
        return try FaultSchedule(faults: job.faults, topology: topology, file: "j.yaml")
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
}
