import ClusterCore
import Collectives
import Config
import Emulation
import Foundation
import Logging
import StraitsWire
import Telemetry
import Training
import Transport

/// A coordinator's successor (`straits-coordinator --resume RUN_DIR`). An elastic job's
/// coordinator writes what a successor needs after every step, atomically and durably
/// (`coordinator-state.json`); the successor binds the same endpoint, appends to the same run
/// directory, waits for the members (which wait for it, `successor_wait_s`, and join again
/// saying the epoch they ran in), moves them to a new epoch and goes on from the first step not
/// finished, retried from the state each device began it with.
extension Coordinator {
    /// What a successor needs: where the job stands and what the plan rested on.
    struct SavedState: Codable {
        var epoch: Int
        var nextStep: Int
        var stepsFinished: Int
        var samplesFinished: Int
        var collective: Int
        /// Training: the schedule and the step within it to run next, the buckets, whether they
        /// were planned from measured compute yet, and the compute measured so far.
        var schedule: Int?
        var scheduleStep: Int?
        var buckets: [[Int]]?
        var bucketsPlanned: Bool?
        var measuredCompute: [Double]?
        var lan: ControlMessage.LinkParameters
        var wan: ControlMessage.LinkParameters
        var hop: ControlMessage.LinkParameters?
        var model: ModelCosts

        /// The model's costs (`CollectiveSimulator.Costs`) as measured at the start.
        struct ModelCosts: Codable {
            var lan: ControlMessage.LinkParameters
            var local: ControlMessage.LinkParameters
            var reduceSPerByte: Double
            var copySPerByte: Double
            var gatewayHop: ControlMessage.LinkParameters?
            var cores: Double?
            var checksumSPerByte: Double
            var messageS: Double
        }

        static let file = "coordinator-state.json"

        static func load(runDirectory: String) throws -> SavedState {
            let path = runDirectory + "/" + file
            guard let data = FileManager.default.contents(atPath: path) else {
                throw RuntimeError(
                    .invalidArgument,
                    "\(path) is missing: the job wrote no state for a successor (a job without quorum:, or one that died before its first step finished)"
                )
            }
            do {
                let decoder = JSONDecoder()
                decoder.keyDecodingStrategy = .convertFromSnakeCase
                return try decoder.decode(SavedState.self, from: data)
            } catch {
                throw RuntimeError(.invalidArgument, "\(path) does not hold a coordinator's state: \(error)")
            }
        }
    }

    /// Writes the state after a finished step (elastic jobs): the next step to run and where.
    func saveState(nextStep: Int, collective: Int, training: TrainingCursor? = nil) {
        guard elastic, let links = measuredLinks else { return }
        let costs = modelCosts
        let parameters = { (cost: LinkCost) in
            ControlMessage.LinkParameters(alphaS: cost.alphaSeconds, betaSPerByte: cost.betaSecondsPerByte)
        }
        let state = SavedState(
            epoch: epoch, nextStep: nextStep, stepsFinished: stepsFinished, samplesFinished: samplesFinished,
            collective: collective, schedule: training?.schedule, scheduleStep: training?.step,
            buckets: training?.buckets, bucketsPlanned: training?.planned, measuredCompute: training?.measuredCompute,
            lan: links.lan, wan: links.wan, hop: links.hop,
            model: .init(
                lan: parameters(costs.lan), local: parameters(costs.local),
                reduceSPerByte: costs.reduceSecondsPerByte, copySPerByte: costs.copySecondsPerByte,
                gatewayHop: costs.gatewayHop.map(parameters), cores: costs.cores,
                checksumSPerByte: costs.checksumSecondsPerByte, messageS: costs.messageSeconds))
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        do {
            try run.writeFile(SavedState.file, bytes: Array(try encoder.encode(state)) + [0x0A])
        } catch {
            log.error("cannot write \(SavedState.file): \(error)")
        }
    }

    /// Where a training job stands between steps.
    struct TrainingCursor {
        var schedule: Int
        var step: Int
        var buckets: [[Int]]
        var planned: Bool
        var measuredCompute: [Double]
    }

    /// The successor's start: the plan's inputs as the first coordinator measured them, the
    /// members as they join again (up to the join timeout: every seat of the topology, or as
    /// many as the quorum needs once it passes), and a new epoch over them.
    func resumeMembership(_ state: SavedState) throws {
        measuredLinks = (state.lan, state.wan, state.hop)
        let model = state.model
        var costs = CollectiveSimulator.Costs(
            lan: LinkCost(model.lan), local: LinkCost(model.local), reduceSecondsPerByte: model.reduceSPerByte,
            copySecondsPerByte: model.copySPerByte, gatewayHop: model.gatewayHop.map(LinkCost.init))
        costs.cores = model.cores
        costs.checksumSecondsPerByte = model.checksumSPerByte
        costs.messageSeconds = model.messageS
        modelCosts = costs
        modelLinks = declaredLinks()
        jobText = job.kind == .train ? try String(contentsOfFile: options.jobPath, encoding: .utf8) : nil
        epoch = state.epoch
        stepsFinished = state.stepsFinished
        samplesFinished = state.samplesFinished
        let quorum = job.quorum!
        let deadline = clock.now() + Self.nanoseconds(options.joinTimeoutSeconds)
        log.info(
            "resuming at step \(state.nextStep) (epoch \(state.epoch)): waiting up to \(JSONValue.format(options.joinTimeoutSeconds)) s for the members to join again"
        )
        try pump(
            until: {
                self.membership.isComplete
                    || (self.clock.now() >= deadline - 1_000_000_000
                        && self.membership.shortOfQuorum(hosts: quorum.hosts, regions: quorum.regions) == nil
                        && self.membership.gateways.count == self.membership.gatewaysNeeded)
            }, deadline: deadline,
            timeoutMessage: {
                "resuming: \(self.membership.shortOfQuorum(hosts: quorum.hosts, regions: quorum.regions) ?? "gateways missing") within \(JSONValue.format(self.options.joinTimeoutSeconds)) s"
            })
        // Members that ran the epoch the state was written in, or a later one, hold the state
        // of the step to run; the others (restarted, or left out earlier) are sent it.
        let members = membership.liveWorkers.filter { elasticity.joining.contains($0) }
        epoch = max(epoch, members.compactMap { membership.workers[$0].join.epoch }.max() ?? epoch)
        elasticity.gatewaysBack = []
        elasticity.holders = Set(members.filter { (membership.workers[$0].join.epoch ?? 0) >= state.epoch })
        run.event(
            "resumed",
            [
                ("step", .int(state.nextStep)), ("epoch", .int(epoch + 1)), ("workers", .int(members.count)),
                ("gateways", .int(membership.gateways.count)),
            ])
    }

    /// The declared links of the topology by region index, for the model (gateways shape them).
    func declaredLinks() -> [Int: [Int: LinkSpec]]? {
        guard !membership.gateways.isEmpty else { return nil }
        var byRegion: [Int: [Int: LinkSpec]] = [:]
        for link in topology.links {
            guard let from = topology.regions.firstIndex(where: { $0.name == link.from }),
                let to = topology.regions.firstIndex(where: { $0.name == link.to })
            else { continue }
            byRegion[from, default: [:]][to] = link.spec
        }
        return byRegion
    }

    /// The training ledger of the steps the first coordinator finished, from steps.jsonl (each
    /// finished step's lines are there before the state that counts it is written).
    static func ledger(
        spec: TrainingSpec, regions: [String], runDirectory: String, before nextStep: Int
    ) throws -> TrainingLedger {
        var ledger = TrainingLedger(spec: spec, regions: regions)
        let text = (try? String(contentsOfFile: runDirectory + "/steps.jsonl", encoding: .utf8)) ?? ""
        var bySchedule: [String: [Int: [[String: Any]]]] = [:]
        for line in text.split(separator: "\n") {
            guard let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let step = record["step"] as? Int, step < nextStep, let schedule = record["schedule"] as? String
            else { continue }
            bySchedule[schedule, default: [:]][step, default: []].append(record)
        }
        for schedule in spec.schedules {
            guard let steps = bySchedule[schedule.name] else { continue }
            ledger.begin(schedule)
            for step in steps.keys.sorted() {
                let lines = steps[step]!
                var regionCompute: [Int: (compute: Double, devices: Int)] = [:]
                var regionWan: [Int: Int] = [:]
                var wan = 0
                var lan = 0
                var loss = 0.0
                for line in lines {
                    let region = regions.firstIndex(of: line["region"] as? String ?? "") ?? 0
                    let compute = line["compute_s"] as? Double ?? 0
                    regionCompute[region, default: (0, 0)].compute += compute
                    regionCompute[region, default: (0, 0)].devices += 1
                    regionWan[region, default: 0] += line["wan_bytes"] as? Int ?? 0
                    wan += line["wan_bytes"] as? Int ?? 0
                    lan += line["lan_bytes"] as? Int ?? 0
                    loss += line["loss"] as? Double ?? 0
                }
                ledger.record(
                    .init(
                        wall: lines.first?["wall_s"] as? Double ?? 0, loss: loss / Double(max(lines.count, 1)),
                        wanBytes: wan, lanBytes: lan, regionCompute: regionCompute, regionWanBytes: regionWan))
            }
        }
        return ledger
    }

    /// The links as the gateways had them before the successor: a fault the first coordinator
    /// began may still hold one down or degraded, and nobody would end it. Every link goes back
    /// to what the topology declares.
    func restoreLinks() throws {
        for (region, gateway) in membership.gateways {
            for (other, name) in topology.regions.map(\.name).enumerated() where other != region {
                for state in [ControlMessage.Fault.State.up, .restored] {
                    try send(.fault(.init(to: name, state: state)), to: gateway.route)
                }
            }
        }
    }
}
