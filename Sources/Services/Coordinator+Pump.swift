import ClusterCore
import Config
import Foundation
import Logging
import StraitsWire
import Telemetry
import Transport
import ZeroMQ

extension Coordinator {
    /// Serves the control socket until `done()` holds: hands joins, heartbeats and results to the
    /// cores, sends heartbeats, writes per-second records, and fails the job on a dead or failed
    /// member or when `deadline` (monotonic nanoseconds) passes.
    func pump(until done: () -> Bool, deadline: Int64, timeoutMessage: () -> String) throws {
        while !done() {
            if let failure { throw Abort(description: failure) }
            let signalNumber = Self.interrupted.load(ordering: .relaxed)
            if signalNumber != 0 {
                throw Abort(
                    description:
                        "interrupted by \(signalNumber == SIGINT ? "SIGINT" : "SIGTERM") at step \(max(steps.step, 0))")
            }
            let now = clock.now()
            if now >= deadline { throw Abort(description: timeoutMessage()) }
            for directive in membership.onTick(now: now) { try carryOut(directive) }
            for action in faults.onTick(now: now) { carryOut(action) }
            for kill in faults.dueKills(now: now) { carryOut(kill) }
            if !membership.admitting,
                let (regions, links) = records.onTick(now: now, membership: membership, latestStep: latestStep)
            {
                write(regions, links)
            }
            let next = min(membership.nextDeadline, deadline, now + 100_000_000, faults.nextDeadline ?? .max)
            let wait = Duration.nanoseconds(max(next - now, 1_000_000))
            guard let frames = try ControlLink.receiveFrames(on: &router.socket, timeout: wait) else { continue }
            try handle(frames)
        }
    }

    /// Carries out what the membership core decided.
    func carryOut(_ directive: Membership.Directive) throws {
        switch directive {
        case .admitted(let id):
            let member = membership[id]
            if member.isGateway {
                run.event(
                    "join",
                    [("role", "gateway"), ("region", .string(member.join.region)), ("pid", .int(member.join.pid))])
                log.info("admitted \(member.label)")
            } else {
                let join = member.join
                run.event(
                    "join",
                    [
                        ("region", .string(join.region)), ("host", .int(join.host)), ("pid", .int(join.pid)),
                        ("devices", .int(join.devices)), ("numa_nodes", .int(join.numaNodes)),
                    ])
                log.info(
                    "admitted \(member.label): \(join.devices) device\(join.devices == 1 ? "" : "s"), \(join.numaNodes) NUMA node\(join.numaNodes == 1 ? "" : "s") (\(membership.workers.count)/\(topology.hostCount))"
                )
            }
            try? send(.heartbeat(.init(seq: membership.heartbeatSequence)), to: member.route)
            if !membership.admitting {
                switch id {
                case .worker(let index): joined(index)
                case .gateway(let region): gatewayJoined(region)
                }
            }
        case .refuse(let route, let reason):
            // Every refused peer hears why; the log and events.jsonl hold the first 20 refusals
            // and every 1000th, so that a peer joining in a loop cannot fill them.
            refused += 1
            if ControlLink.isLogged(refused) {
                run.event("refused", [("count", .int(refused)), ("reason", .string(reason))])
                log.info("refused a join (\(refused) so far): \(reason)")
            }
            try? send(.refuse(.init(reason: reason)), to: route)
        case .heartbeat(let seq):
            for member in membership.everyone { try? send(.heartbeat(.init(seq: seq)), to: member.route) }
        case .dead(let id, let reason):
            switch id {
            case .worker(let index): if lose(index, reason: reason) { return }
            case .gateway(let region): if loseGateway(region, reason: reason) { return }
            }
            // Recorded once, and the job's failure from then on: a send that meets the closed
            // connection again (a heartbeat, the stop) finds it already known, and a send whose
            // error is not awaited (`try?`) still ends the job at the pump's next turn.
            if dead.insert(id).inserted {
                let member = membership[id]
                run.event(
                    "worker_dead",
                    [
                        ("region", .string(member.join.region)), ("host", .int(member.join.host)),
                        ("pid", .int(member.join.pid)), ("reason", .string(reason)),
                    ])
            }
            if failure == nil { failure = reason }
            throw Abort(description: failure ?? reason)
        case .expelled(let route, let label, let reason):
            run.event("member_dropped", [("member", .string(label)), ("reason", .string(reason))])
            log.info("\(reason); its place is open again")
            try? send(.refuse(.init(reason: reason)), to: route)
        }
    }

    /// Tells the gateway of a fault's source region what becomes of its link, and records it.
    func carryOut(_ action: FaultSchedule.Action) {
        let from = topology.regions[action.from].name
        let to = topology.regions[action.to].name
        var fields: [(String, JSONValue)] = [
            ("fault", .int(action.fault)), ("from", .string(from)), ("to", .string(to)),
            ("state", .string(action.state.rawValue)),
        ]
        if let rate = action.bitsPerSecond { fields.append(("bandwidth_bps", .double(rate))) }
        if let latency = action.latencySeconds { fields.append(("latency_s", .double(latency))) }
        run.event("link_fault", fields)
        faultLedger.linkChange(
            fault: action.fault, target: "\(from) → \(to)", active: action.state == .down || action.state == .degraded,
            now: clock.now())
        trace.linkFault(
            from: from, to: to, link: action.from * topology.regions.count + action.to, state: action.state.rawValue,
            at: clock.now(), args: Array(fields.dropFirst(3)))
        log.info("link \(from) → \(to): \(action.state.rawValue) (fault \(action.fault) of the job)")
        guard let gateway = membership.gateways[action.from] else { return }
        try? send(
            .fault(
                .init(to: to, state: action.state, bandwidthBps: action.bitsPerSecond, latencyS: action.latencySeconds)),
            to: gateway.route)
    }

    /// A kill of the job: each process it names is told to end itself as SIGKILL would.
    func carryOut(_ kill: FaultSchedule.Kill, step: Int? = nil) {
        let region = topology.regions.firstIndex { $0.name == kill.target.region }
        var members: [Membership.Member] = []
        switch kill.target {
        case .worker(_, let host):
            members = membership.liveWorkers.map { membership.workers[$0] }.filter {
                $0.region == region && $0.join.host == host
            }
        case .gateway:
            members = region.flatMap { membership.gateways[$0] }.map { [$0] } ?? []
        case .region:
            members =
                membership.liveWorkers.map { membership.workers[$0] }.filter { $0.region == region }
                + (region.flatMap { membership.gateways[$0] }.map { [$0] } ?? [])
        }
        run.event(
            "kill_fault",
            [
                ("fault", .int(kill.fault)), ("target", .string(kill.target.description)),
                ("members", .array(members.map { .string($0.label) })), ("step", .int(step ?? max(steps.step, 0))),
            ])
        trace.membership("kill \(kill.target)", at: clock.now(), args: [("fault", .int(kill.fault))])
        faultLedger.kill(
            fault: kill.fault, target: kill.target.description, members: members.map(\.label), now: clock.now())
        log.info(
            "kill \(kill.target) (fault \(kill.fault) of the job): \(members.isEmpty ? "no such member now" : members.map(\.label).joined(separator: ", "))"
        )
        for member in members {
            try? send(
                .kill(.init(fault: kill.fault, reason: "fault \(kill.fault) of the job: kill \(kill.target)")),
                to: member.route)
        }
    }

    /// A fault an operator gives while the job runs (`straits fault`): scheduled as the job's
    /// are, and answered with what was scheduled or what is wrong. A peer that can reach this
    /// socket may do it: with CURVE, only one that holds the cluster's keys.
    func inject(_ inject: ControlMessage.Inject, route: [UInt8]) {
        var answer = inject
        do throws(any Error) {
            let node = try YAMLParser.parse(inject.fault, file: "fault")
            func when(_ step: Int?, _ seconds: Double?) -> String {
                step.map { "at step \($0)" } ?? "in \(JSONValue.format(seconds ?? 0)) s"
            }
            if KillFault.isKill(node) {
                let kill = try KillFault.parse(node, file: "fault")
                let index = try faults.inject(kill: kill, topology: topology, now: clock.now())
                answer.reason = "kill \(index) (\(kill.target)) scheduled \(when(kill.atStep, kill.atSeconds))"
                run.event("fault_injected", [("kill", .int(index)), ("text", .string(inject.fault))])
            } else {
                guard !membership.gateways.isEmpty else {
                    throw RuntimeError(.unsupported, "this run has no gateways to carry out link faults")
                }
                let links = try LinkFault.parse(inject.fault, file: "fault")
                let indices = try links.map { try faults.inject($0, topology: topology, now: clock.now()) }
                let names = indices.count == 1 ? "fault \(indices[0])" : "faults \(indices.first!)…\(indices.last!)"
                answer.reason =
                    "\(names) scheduled \(when(links[0].atStep, links[0].atSeconds)), for \(JSONValue.format(links[0].forSeconds)) s"
                run.event("fault_injected", [("fault", .int(indices[0])), ("text", .string(inject.fault))])
            }
            answer.ok = true
            log.info("\(answer.reason!): \(inject.fault)")
            for action in faults.onTick(now: clock.now()) { carryOut(action) }
            for kill in faults.dueKills(now: clock.now()) { carryOut(kill) }
        } catch {
            answer.ok = false
            answer.reason = "\(error)"
            drop("an injected fault: \(error)")
        }
        try? send(.inject(answer), to: route)
    }

    /// Drops a member that broke the protocol (see `Membership.expel`).
    private func expel(_ id: Membership.MemberID, _ reason: String) throws {
        drop("from \(membership[id].label): \(reason)")
        try carryOut(membership.expel(id, reason: reason))
    }

    private func handle(_ frames: [[UInt8]]) throws {
        guard frames.count >= 2 else {
            drop(
                "a message of \(frames.count) frame\(frames.count == 1 ? "" : "s") (expected routing id, envelope, body)"
            )
            return
        }
        let route = frames[0]
        let who = membership.member(route: route)
        let message: ControlMessage
        do {
            message = try ControlMessage(frames: Array(frames.dropFirst()))
        } catch {
            if case .versionMismatch = error {
                try carryOut(
                    .refuse(
                        route: route,
                        reason:
                            "\(error); upgrade the worker or the coordinator so both speak version \(ControlMessage.protocolVersion)"
                    ))
                return
            }
            if let who {
                try expel(who, "\(error)")
            } else {
                drop("from an unknown peer: \(error)")
            }
            return
        }
        if case .join(let join) = message {
            try carryOut(membership.onJoin(join, route: route, now: clock.now()))
            return
        }
        if case .inject(let inject) = message, who == nil {
            self.inject(inject, route: route)
            return
        }
        guard let who else {
            drop("a \(message.kind) message from a peer that has not joined")
            return
        }
        membership.heard(who, now: clock.now())
        if case .clock(let probe) = message {
            // A clock measurement: answered at once, stamped as late as possible.
            try send(.clock(.init(seq: probe.seq, memberNs: probe.memberNs, coordinatorNs: clock.now())), to: route)
            return
        }
        let label = membership[who].label
        switch (who, message) {
        case (.gateway, .heartbeat(let beat)):
            if let links = beat.links { membership[who].report.links = links }
        case (.gateway(let region), .stop(let stop)):
            run.event(
                "gateway_failed",
                [("region", .string(topology.regions[region].name)), ("reason", .string(stop.reason))])
            failure = "gateway \(topology.regions[region].name) failed: \(stop.reason)"
        case (.gateway, _):
            try expel(who, "it sent a \(message.kind) message, which a gateway never sends")
        case (.worker, .heartbeat(let beat)):
            if let traffic = beat.traffic { membership[who].report.traffic = traffic }
            if let compute = beat.computeS { membership[who].report.computeS = compute }
            if let comm = beat.commS { membership[who].report.commS = comm }
            if let steps = beat.stepsDone { membership[who].report.stepsDone = steps }
        case (.worker, .probed(let result)):
            probed = result
        case (.worker(let index), .stepDone(let done)):
            // A result of an attempt given up (an earlier epoch's) is not this step's.
            guard (done.epoch ?? 1) == epoch else { return }
            switch steps.onStepDone(done, worker: positionInOrder[index], label: label) {
            case .accepted:
                membership[who].report.traffic = done.traffic
                membership[who].report.computeS += done.devices.reduce(0) { $0 + $1.computeS }
                membership[who].report.commS += done.devices.reduce(0) { $0 + $1.commS }
            case .dropped(let reason):
                drop(reason)
            }
        case (.worker(let index), .modelPart(let part)):
            guard order.first == index else {
                drop("a part of \(part.file.debugDescription) from \(label), which does not hold rank 0")
                return
            }
            switch files.on(part) {
            case .partial:
                break
            case .complete(let file, let bytes):
                do {
                    try run.writeFile(file, bytes: bytes)
                } catch {
                    failure = "cannot write \(run.path)/\(file): \(error)"
                }
            case .refused(let reason):
                drop("from \(label): \(reason)")
            }
        case (.worker, .stop(let stop)):
            let member = membership[who]
            run.event(
                "worker_failed",
                [
                    ("region", .string(member.join.region)), ("host", .int(member.join.host)),
                    ("reason", .string(stop.reason)),
                ])
            failure = "worker \(label) failed: \(stop.reason)"
        case (.worker, .join), (.worker, .refuse), (.worker, .plan), (.worker, .probe), (.worker, .step),
            (.worker, .clock), (.worker, .fault), (.worker, .inject), (.worker, .kill):
            try expel(who, "it sent a \(message.kind) message, which only the coordinator sends")
        }
    }

    /// Counts and logs a control message that was not taken (the first 20 and every 1000th in
    /// events.jsonl).
    func drop(_ reason: String) {
        dropped += 1
        if ControlLink.isLogged(dropped) {
            run.event("dropped", [("count", .int(dropped)), ("reason", .string(reason))])
        }
        ControlLink.logDropped("straits-coordinator", count: dropped, reason)
    }

    /// Sends to a worker or gateway. A peer whose connection is gone (it exited or was killed:
    /// libzmq says host unreachable) is recorded as dead and ends the job.
    func send(_ message: ControlMessage, to route: [UInt8]) throws {
        try send(frames: message.encoded(), to: route)
    }

    /// Sends a message already encoded, as `send(_:to:)`.
    func send(frames: [[UInt8]], to route: [UInt8]) throws {
        do {
            try ControlLink.send(frames: frames, on: &router.socket, to: route)
        } catch let error as ZMQError where error.code == .hostUnreachable {
            guard let gone = membership.onConnectionGone(route: route) else { throw error }
            try carryOut(gone)
        }
    }
}
