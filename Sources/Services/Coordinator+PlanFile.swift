import ClusterCore
import Collectives
import StraitsWire
import Telemetry
import Transport

extension Coordinator {
    /// plan.json: placement, the links as declared and as measured, what the planner and the
    /// model take, and the plan per collective size.
    func planFile(_ facts: PlanFacts) -> JSONValue {
        let devices = facts.layout.devicesPerWorker
        let links = facts.links
        func parameters(_ link: ControlMessage.LinkParameters) -> JSONValue {
            .object([("alpha_s", .double(link.alphaS)), ("beta_s_per_byte", .double(link.betaSPerByte))])
        }
        var measured: [JSONValue] = zip(facts.calibration.probes, facts.calibration.measured).map { probe, link in
            .object([
                ("kind", .string(probe.kind.rawValue)), ("from", .string(worker(probe.from).label)),
                ("to", .string(worker(probe.to).label)),
                ("alpha_s", .double(link.alphaS)), ("beta_s_per_byte", .double(link.betaSPerByte)),
                ("bandwidth_gbps", .double(8 / link.betaSPerByte / 1e9)),
                ("cpu_per_message_s", link.cpuPerMessageS.map { .double($0) } ?? .null),
            ])
        }
        if facts.calibration.lanAssumed {
            measured.append(
                .object([
                    ("kind", "lan"), ("assumed", true), ("alpha_s", .double(links.lan.alphaS)),
                    ("beta_s_per_byte", .double(links.lan.betaSPerByte)),
                    ("bandwidth_gbps", .double(8 / links.lan.betaSPerByte / 1e9)),
                ]))
        }
        let sizes = job.kind == .bench ? job.benchSizes : [trainingBytes ?? job.gradientBytes]
        let gateways = membership.gateways
        let workers: [JSONValue] = order.indices.map { index in
            let member = worker(index)
            let ranks: [JSONValue] = (0..<facts.layout.devices[index]).map {
                .int(facts.layout.workers[index].firstRank + $0)
            }
            return .object([
                ("worker", .int(index)), ("region", .string(member.join.region)), ("host", .int(member.join.host)),
                ("pid", .int(member.join.pid)), ("numa_nodes", .int(member.join.numaNodes)),
                ("ranks", .array(ranks)), ("endpoints", .array(member.join.endpoints.map { .string($0) })),
            ])
        }
        let declared: [JSONValue] = topology.links.map { link in
            .object([
                ("from", .string(link.from)), ("to", .string(link.to)), ("bandwidth_bps", .double(link.bitsPerSecond)),
                ("latency_s", .double(link.latencySeconds)), ("jitter_s", .double(link.jitterSeconds)),
                ("burst_bytes", .int(link.burstBytes)),
            ])
        }
        var pool = JSONValue.null
        if let facts = facts.pool {
            pool = .object([("file", .string(facts.file)), ("runs", .int(facts.runs)), ("own", facts.own.json)])
        }
        var gatewayHop = JSONValue.null
        if let hop = facts.gatewayHop {
            gatewayHop = .object([
                ("alpha_s", .double(hop.alphaS)), ("beta_s_per_byte", .double(hop.betaSPerByte)),
                ("measured_as", .string(links.hopMeasuredAs)),
            ])
        }
        var cores = JSONValue.null
        if let c = facts.cores {
            cores = .object([
                ("cores", .double(c.cores)), ("threads", .int(c.threads)),
                ("reduce_bytes_per_s", .double(1 / c.reduceSecondsPerByte)),
                ("copy_bytes_per_s", .double(1 / c.copySecondsPerByte)),
                ("checksum_bytes_per_s", .double(1 / c.checksumSecondsPerByte)),
                ("checksums", .bool(options.checksums)),
                ("message_cpu_s", .double(facts.messageSeconds)),
            ])
        }
        let gatewayList: [JSONValue] = gateways.keys.sorted().map { region in
            .object([
                ("region", .string(topology.regions[region].name)), ("pid", .int(gateways[region]!.join.pid)),
                ("ingress", .array(gateways[region]!.join.endpoints.map { .string($0) })),
            ])
        }
        let collectives: [JSONValue] = sizes.map { size in
            let choice = job.kind == .bench ? modelChoice(bytes: size).choice : planner!.choose(bytes: size)
            return .object([("size_bytes", .int(size)), ("plan", .string(choice.description))])
        }
        return .object([
            ("epoch", 1), ("topology", .string(topology.name)), ("job", .string(job.name)),
            ("ranks", .int(facts.layout.ranks)), ("devices_per_worker", .int(devices)),
            ("algo", .string(job.algorithm.rawValue)),
            ("checksums", .bool(options.checksums)),
            ("workers", .array(workers)),
            ("links_declared", .array(declared)),
            ("links_measured", .array(measured)),
            ("planner_links", .object([("lan", parameters(links.lan)), ("wan", parameters(links.wan))])),
            ("wan_path", .string(wanPath)),
            ("model_lan", parameters(facts.modelLAN)),
            ("calibration_pool", pool),
            ("gateway_hop", gatewayHop),
            ("model_cores", cores),
            ("gateways", .array(gatewayList)),
            ("collectives", .array(collectives)),
        ])
    }
}
