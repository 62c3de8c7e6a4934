import ClusterCore
import Config
import Emulation
import StraitsWire
import Testing

/// The coordinator's membership under a manual clock: every admission, every refusal reason,
/// heartbeats and liveness to the nanosecond.
@Suite("membership: admission and liveness, manual clock")
struct MembershipTests {
    static let second: Int64 = 1_000_000_000
    static let topology = try! ClusterTopology.parse(
        """
        name: two
        regions:
          - { name: us, hosts: 2, devices_per_host: 2 }
          - { name: eu, hosts: 1, devices_per_host: 2 }
        links:
          - { between: [us, eu], bandwidth: 1Gbps, latency: 10ms }
        """, file: "two.yaml")
    static let timing = Membership.Timing(heartbeat: second / 2, deadAfter: 5 * second)

    static func worker(_ region: String, _ host: Int, devices: Int = 2, endpoints: Int? = nil, pid: Int = 100)
        -> ControlMessage.Join
    {
        .init(
            region: region, host: host, devices: devices, numaNodes: 1,
            endpoints: (0..<(endpoints ?? devices)).map { "tcp://127.0.0.1:\(5000 + $0)" }, pid: pid)
    }

    static func gateway(_ region: String, endpoints: Int = 2, pid: Int = 200) -> ControlMessage.Join {
        .init(
            region: region, host: 0, devices: 0, numaNodes: 1,
            endpoints: Array(repeating: "tcp://127.0.0.1:6000", count: endpoints),
            pid: pid, role: "gateway")
    }

    static func refusal(_ directive: Membership.Directive) -> String? {
        if case .refuse(_, let reason) = directive { return reason }
        return nil
    }

    @Test("workers and gateways are admitted until every one of the topology has joined")
    func admission() {
        let clock = ManualClock()
        var membership = Membership(topology: Self.topology, timing: Self.timing, gateways: true, now: clock.now())
        #expect(membership.gatewaysNeeded == 2)
        #expect(membership.missing == ["gateway us", "gateway eu", "us/host 0", "us/host 1", "eu/host 0"])
        #expect(membership.onJoin(Self.worker("us", 1), route: [1], now: clock.now()) == .admitted(.worker(0)))
        #expect(membership.onJoin(Self.worker("us", 0), route: [2], now: clock.now()) == .admitted(.worker(1)))
        #expect(membership.onJoin(Self.gateway("eu"), route: [3], now: clock.now()) == .admitted(.gateway(region: 1)))
        #expect(!membership.isComplete)
        #expect(membership.onJoin(Self.worker("eu", 0), route: [4], now: clock.now()) == .admitted(.worker(2)))
        #expect(membership.onJoin(Self.gateway("us"), route: [5], now: clock.now()) == .admitted(.gateway(region: 0)))
        #expect(membership.isComplete && membership.missing.isEmpty)
        #expect(membership.member(route: [3]) == .gateway(region: 1))
        #expect(membership.member(route: [2]) == .worker(1))
        #expect(membership.member(route: [9]) == nil)
        #expect(membership[.worker(0)].label == "us/host 1 (pid 100)")
        #expect(membership[.gateway(region: 1)].label == "gateway eu (pid 200)")
        #expect(membership.everyone.map(\.route) == [[1], [2], [4], [5], [3]])
    }

    @Test("every refusal names the peer and what is wrong")
    func refusals() {
        var membership = Membership(topology: Self.topology, timing: Self.timing, gateways: true, now: 0)
        func refuse(_ join: ControlMessage.Join, route: [UInt8] = [7]) -> String? {
            Self.refusal(membership.onJoin(join, route: route, now: 0))
        }
        #expect(
            refuse(Self.worker("asia", 0))
                == "asia/host 0 (pid 100): topology two has no region \"asia\" (regions: us, eu)")
        #expect(refuse(Self.worker("us", 2)) == "us/host 2 (pid 100): region us has 2 hosts (0…1) in topology two")
        #expect(refuse(Self.worker("eu", -1)) == "eu/host -1 (pid 100): region eu has 1 host (0…0) in topology two")
        #expect(
            refuse(Self.worker("us", 0, devices: 3))
                == "us/host 0 (pid 100): brings 3 devices and 3 endpoints; region us has 2 devices per host")
        #expect(
            refuse(Self.worker("us", 0, endpoints: 1))
                == "us/host 0 (pid 100): brings 2 devices and 1 endpoints; region us has 2 devices per host")
        var odd = Self.worker("us", 0)
        odd.role = "router"
        #expect(refuse(odd) == "us/host 0 (pid 100): unknown role \"router\" (expected a worker, or role gateway)")
        #expect(refuse(Self.gateway("us", endpoints: 3)) == "gateway us (pid 200): 3 ingress endpoints for 2 regions")

        #expect(membership.onJoin(Self.worker("us", 0), route: [1], now: 0) == .admitted(.worker(0)))
        #expect(
            refuse(Self.worker("us", 0, pid: 101)) == "us/host 0 (pid 101): us/host 0 has already joined as pid 100")
        #expect(refuse(Self.worker("us", 1), route: [1]) == "us/host 1 (pid 100): this connection has already joined")
        #expect(membership.onJoin(Self.gateway("us"), route: [2], now: 0) == .admitted(.gateway(region: 0)))
        #expect(
            refuse(Self.gateway("us", pid: 201)) == "gateway us (pid 201): region us already has its gateway (pid 200)")
        #expect(refuse(Self.gateway("eu"), route: [1]) == "gateway eu (pid 200): this connection has already joined")

        membership.closeAdmission()
        #expect(
            refuse(Self.worker("us", 1))
                == "us/host 1 (pid 100): the job has already started; this job takes no members mid-job (it has no quorum:)"
        )
        #expect(membership.workers.count == 1 && membership.gateways.count == 1)

        var direct = Membership(topology: Self.topology, timing: Self.timing, gateways: false, now: 0)
        #expect(
            Self.refusal(direct.onJoin(Self.gateway("us"), route: [3], now: 0))
                == "gateway us (pid 200): this run takes no gateways (--no-gateways)")
        #expect(direct.gatewaysNeeded == 0)
    }

    @Test(
        "a silent member is dead exactly at its deadline, not a nanosecond before; hearing from it moves the deadline")
    func liveness() {
        let clock = ManualClock(1_000)
        var membership = Membership(topology: Self.topology, timing: Self.timing, gateways: false, now: clock.now())
        _ = membership.onJoin(Self.worker("us", 0), route: [1], now: clock.now())
        clock.advance(by: 2 * Self.second)
        _ = membership.onJoin(Self.worker("us", 1), route: [2], now: clock.now())
        #expect(membership.nextDeadline == 1_000)  // the first heartbeat is due at once
        #expect(membership.onTick(now: clock.now()) == [.heartbeat(seq: 1)])

        // us/host 0 joined at 1 µs: dead at 5 s + 1 µs.
        clock.advance(to: 5 * Self.second + 1_000 - 1)
        #expect(!membership.onTick(now: clock.now()).contains { if case .dead = $0 { true } else { false } })
        clock.advance(by: 1)
        let dead = membership.onTick(now: clock.now()).filter { if case .dead = $0 { true } else { false } }
        #expect(dead == [.dead(.worker(0), reason: "worker us/host 0 (pid 100) sent nothing for 5 s (dead after 5 s)")])

        // Heard from just before its deadline, us/host 1 lives on to 5 s after that.
        membership.heard(.worker(1), now: 7 * Self.second - 1)
        membership.heard(.worker(1), now: 3 * Self.second)  // an older time never moves it back
        #expect(membership[.worker(1)].lastHeard == 7 * Self.second - 1)
        let later = membership.onTick(now: 12 * Self.second - 2).compactMap { directive -> Membership.MemberID? in
            if case .dead(let id, _) = directive { return id }
            return nil
        }
        #expect(later == [.worker(0)])
        #expect(
            membership.onTick(now: 12 * Self.second - 1).contains(
                .dead(.worker(1), reason: "worker us/host 1 (pid 100) sent nothing for 5 s (dead after 5 s)")))
    }

    @Test("heartbeats go out every interval, numbered; the next deadline is the earliest of heartbeat and liveness")
    func heartbeats() {
        var membership = Membership(topology: Self.topology, timing: Self.timing, gateways: false, now: 0)
        #expect(membership.onTick(now: 0) == [.heartbeat(seq: 1)])
        #expect(membership.onTick(now: Self.second / 2 - 1).isEmpty)
        #expect(membership.nextDeadline == Self.second / 2)
        #expect(membership.onTick(now: Self.second / 2) == [.heartbeat(seq: 2)])
        // Late ticks do not send a burst: the next one is an interval after the one sent.
        #expect(membership.onTick(now: 3 * Self.second) == [.heartbeat(seq: 3)])
        #expect(membership.onTick(now: 3 * Self.second + 1).isEmpty)
        #expect(membership.heartbeatSequence == 3)
        _ = membership.onJoin(Self.worker("eu", 0), route: [1], now: 3 * Self.second)
        #expect(membership.nextDeadline == 3 * Self.second + Self.second / 2)
    }

    @Test("a member whose connection closed is dead at once, with the reason")
    func connectionGone() {
        var membership = Membership(topology: Self.topology, timing: Self.timing, gateways: true, now: 0)
        _ = membership.onJoin(Self.gateway("eu"), route: [5], now: 0)
        #expect(membership.onConnectionGone(route: [6]) == nil)
        #expect(
            membership.onConnectionGone(route: [5])
                == .dead(
                    .gateway(region: 1),
                    reason: "gateway eu (pid 200) is gone: its connection closed (it exited or was killed)"))
    }

    @Test(
        "a member that breaks the protocol before the start is dropped and its seat freed, later members keep their routes; once the job runs it is dead"
    )
    func expel() {
        var membership = Membership(topology: Self.topology, timing: Self.timing, gateways: true, now: 0)
        _ = membership.onJoin(Self.worker("us", 0), route: [1], now: 0)
        _ = membership.onJoin(Self.worker("us", 1, pid: 101), route: [2], now: 0)
        _ = membership.onJoin(Self.gateway("eu"), route: [3], now: 0)
        #expect(
            membership.expel(.worker(0), reason: "heartbeat out of bounds")
                == .expelled(
                    route: [1], label: "us/host 0 (pid 100)",
                    reason: "worker us/host 0 (pid 100) was dropped: heartbeat out of bounds"))
        #expect(membership.member(route: [1]) == nil)
        #expect(membership.member(route: [2]) == .worker(0) && membership[.worker(0)].join.pid == 101)
        #expect(membership.missing == ["gateway us", "us/host 0", "eu/host 0"])
        // The seat is free: another peer takes it; the dropped one's route would join anew.
        #expect(membership.onJoin(Self.worker("us", 0, pid: 102), route: [4], now: 0) == .admitted(.worker(1)))
        #expect(
            membership.expel(.gateway(region: 1), reason: "it sent a step message")
                == .expelled(
                    route: [3], label: "gateway eu (pid 200)",
                    reason: "gateway eu (pid 200) was dropped: it sent a step message"))
        #expect(
            membership.member(route: [3]) == nil && membership.missing == ["gateway us", "gateway eu", "eu/host 0"])

        membership.closeAdmission()
        #expect(
            membership.expel(.worker(1), reason: "x")
                == .dead(.worker(1), reason: "worker us/host 0 (pid 102) was dropped: x"))
    }

    @Test("a join that names another job is refused, naming both; one naming this job or none is admitted")
    func jobIdentity() {
        var membership = Membership(
            topology: Self.topology, timing: Self.timing, gateways: false, now: 0, jobID: "run-7")
        var stray = Self.worker("us", 0)
        stray.job = "run-6"
        #expect(
            Self.refusal(membership.onJoin(stray, route: [1], now: 0))
                == "us/host 0 (pid 100): joins job run-6; this coordinator runs job run-7")
        var member = Self.worker("us", 0)
        member.job = "run-7"
        #expect(membership.onJoin(member, route: [2], now: 0) == .admitted(.worker(0)))
        #expect(membership.onJoin(Self.worker("us", 1), route: [3], now: 0) == .admitted(.worker(1)))
    }

    @Test(
        "a departed worker frees its seat: it is no longer watched or greeted, a worker may take the seat in the running job where rejoins are on, and the quorum names what is missing"
    )
    func departAndRejoin() {
        var membership = Membership(topology: Self.topology, timing: Self.timing, gateways: false, now: 0)
        membership.rejoins = true
        #expect(membership.onJoin(Self.worker("us", 0), route: [1], now: 0) == .admitted(.worker(0)))
        #expect(membership.onJoin(Self.worker("us", 1), route: [2], now: 0) == .admitted(.worker(1)))
        #expect(membership.onJoin(Self.worker("eu", 0), route: [3], now: 0) == .admitted(.worker(2)))
        membership.closeAdmission()
        #expect(membership.shortOfQuorum(hosts: 3, regions: 2) == nil)

        membership.depart(2)
        #expect(membership.member(route: [3]) == nil && membership.liveWorkers == [0, 1])
        #expect(membership.everyone.map(\.route) == [[1], [2]])
        #expect(membership.missing == ["eu/host 0"] && !membership.isComplete)
        #expect(membership.shortOfQuorum(hosts: 2, regions: 1) == nil)
        #expect(
            membership.shortOfQuorum(hosts: 3, regions: 2)
                == "below the quorum: 2 of the 3 workers the quorum needs and 1 of the 2 regions it needs (no worker left in eu); missing eu/host 0"
        )
        // Silent since 0, but departed: never declared dead.
        #expect(
            membership.onTick(now: 5 * Self.second).allSatisfy {
                if case .dead(.worker(2), _) = $0 { return false }
                return true
            })

        // The seat is free: the restarted worker takes it (a new entry, the old one stays).
        #expect(membership.onJoin(Self.worker("eu", 0, pid: 101), route: [4], now: 0) == .admitted(.worker(3)))
        #expect(membership.isComplete && membership.liveWorkers == [0, 1, 3])
        #expect(membership.member(route: [4]) == .worker(3))
        #expect(
            Self.refusal(membership.onJoin(Self.worker("eu", 0, pid: 102), route: [5], now: 0))
                == "eu/host 0 (pid 102): eu/host 0 has already joined as pid 101")

        // Without rejoins, a running job takes nobody.
        var fixed = Membership(topology: Self.topology, timing: Self.timing, gateways: false, now: 0)
        fixed.closeAdmission()
        #expect(
            Self.refusal(fixed.onJoin(Self.worker("us", 0), route: [1], now: 0))
                == "us/host 0 (pid 100): the job has already started; this job takes no members mid-job (it has no quorum:)"
        )
    }
}
