extension ControlMessage {
    /// What any number, list or text a peer sends must stay within. Generous for any real
    /// cluster, and small enough that sums over a thousand members of a thousand regions cannot
    /// overflow, and that nothing a peer sends can make the receiver hold much.
    public enum Bounds {
        /// A count of bytes (256 TiB).
        public static let bytes = 1 << 48
        /// A count of messages, steps, ranks, ids (2^40).
        public static let count = 1 << 40
        /// A duration in seconds (about four months).
        public static let seconds = 1e7
        /// A name: region, file, endpoint, role.
        public static let name = 256
        /// A reason or a description, characters.
        public static let text = 16_384
        /// Entries in a list a peer sends (workers, endpoints, buckets, devices, links).
        public static let list = 1 << 20
    }

    /// What is out of bounds in this message (`Bounds`), or nil: the decoder refuses such a
    /// message as malformed, so no receiver computes with a number a peer made up to break it.
    public var outOfBounds: String? {
        var check = BoundsCheck()
        switch self {
        case .join(let join):
            check.name(join.region, "region")
            check.int(join.host, "host", max: Bounds.count)
            check.int(join.devices, "devices", max: 4096)
            check.int(join.numaNodes, "numa_nodes", max: 4096)
            check.list(join.endpoints.count, "endpoints", max: 4096)
            for endpoint in join.endpoints { check.name(endpoint, "endpoints[]") }
            check.int(join.pid, "pid", max: Int(Int32.max))
            if let role = join.role { check.name(role, "role") }
            if let job = join.job { check.name(job, "job") }
            if let epoch = join.epoch { check.int(epoch, "epoch", max: Bounds.count) }
        case .refuse(let refuse):
            check.text(refuse.reason, "reason")
        case .plan(let plan):
            check.int(plan.epoch, "epoch", max: Bounds.count)
            check.int(plan.you, "you", min: -1, max: Bounds.count)
            check.list(plan.regions.count, "regions")
            for region in plan.regions { check.name(region, "regions[]") }
            check.int(plan.devicesPerWorker, "devices_per_worker", max: 4096)
            check.list(plan.workers.count, "workers")
            for worker in plan.workers {
                check.int(worker.worker, "workers[].worker", max: Bounds.count)
                check.int(worker.region, "workers[].region", max: plan.regions.count - 1)
                check.int(worker.host, "workers[].host", max: Bounds.count)
                check.int(worker.firstRank, "workers[].first_rank", max: Bounds.count)
                check.list(worker.endpoints.count, "workers[].endpoints", max: 4096)
                for endpoint in worker.endpoints { check.name(endpoint, "workers[].endpoints[]") }
            }
            check.int(plan.chunkBytes, "chunk_bytes", max: Bounds.bytes)
            check.int(plan.maxBytes, "max_bytes", max: Bounds.bytes)
            check.seconds(plan.timeoutS, "timeout_s", positive: true)
            check.link(plan.lan, "lan")
            check.link(plan.wan, "wan")
            if let hop = plan.gatewayHop { check.link(hop, "gateway_hop") }
            if let wait = plan.successorWaitS { check.seconds(wait, "successor_wait_s") }
            for gateway in plan.gateways ?? [] {
                check.int(gateway.region, "gateways[].region", max: plan.regions.count - 1)
                check.list(gateway.endpoints.count, "gateways[].endpoints", max: 4096)
                for endpoint in gateway.endpoints { check.name(endpoint, "gateways[].endpoints[]") }
            }
            if let job = plan.job { check.text(job, "job", max: 1 << 20) }
        case .probe(let probe):
            check.int(probe.peerWorker, "peer_worker", max: Bounds.count)
            check.int(probe.collective, "collective", max: Bounds.count)
        case .probed(let probed):
            check.int(probed.peerWorker, "peer_worker", max: Bounds.count)
            check.link(probed.link, "link")
        case .step(let step):
            check.int(step.step, "step", max: Bounds.count)
            check.int(step.bytes, "bytes", max: Bounds.bytes)
            check.seconds(step.computeS, "compute_s")
            check.int(step.collective, "collective", max: Bounds.count)
            if let chunk = step.chunkBytes { check.int(chunk, "chunk_bytes", max: Bounds.bytes) }
            if let epoch = step.epoch { check.int(epoch, "epoch", max: Bounds.count) }
            if let train = step.train {
                check.int(train.schedule, "train.schedule", max: Bounds.count)
                check.int(train.index, "train.index", max: Bounds.count)
                check.list(train.buckets.count, "train.buckets")
                for bucket in train.buckets {
                    if bucket.count != 2 { check.fail("train.buckets[]: \(bucket.count) numbers, expected 2") }
                    for value in bucket { check.int(value, "train.buckets[][]", max: Bounds.bytes / 4) }
                }
                if let save = train.save { check.name(save, "train.save") }
                check.list(train.outerWeights?.count ?? 0, "train.outer_weights", max: Bounds.list)
                for weight in train.outerWeights ?? [] where !weight.isFinite || weight < 0 || weight > 1 {
                    check.fail("train.outer_weights[]: \(weight) is outside 0…1")
                }
                check.list(train.state?.count ?? 0, "train.state", max: 4096)
                for state in train.state ?? [] {
                    check.int(state.from, "train.state[].from", max: Bounds.count)
                    check.list(state.to.count, "train.state[].to", max: 4096)
                    for rank in state.to { check.int(rank, "train.state[].to[]", max: Bounds.count) }
                }
            }
        case .stepDone(let done):
            check.int(done.step, "step", max: Bounds.count)
            if let epoch = done.epoch { check.int(epoch, "epoch", max: Bounds.count) }
            check.text(done.plan, "plan")
            check.list(done.devices.count, "devices", max: 4096)
            for device in done.devices { check.device(device) }
            check.traffic(done.traffic)
        case .heartbeat(let beat):
            check.int(beat.seq, "seq", max: Bounds.count)
            if let traffic = beat.traffic { check.traffic(traffic) }
            if let compute = beat.computeS { check.seconds(compute, "compute_s") }
            if let comm = beat.commS { check.seconds(comm, "comm_s") }
            if let steps = beat.stepsDone { check.int(steps, "steps_done", max: Bounds.count) }
            check.list(beat.links?.count ?? 0, "links", max: 4096)
            for link in beat.links ?? [] {
                check.name(link.to, "links[].to")
                check.int(link.offeredBytes, "links[].offered_bytes", max: Bounds.bytes)
                check.int(link.deliveredBytes, "links[].delivered_bytes", max: Bounds.bytes)
                check.int(link.queuedBytes, "links[].queued_bytes", max: Bounds.bytes)
                check.int(link.deliveredMessages, "links[].delivered_messages", max: Bounds.count)
                check.seconds(link.busyS, "links[].busy_s")
                check.seconds(link.queueDelaySSum, "links[].queue_delay_s_sum")
                check.seconds(link.queueDelaySMax, "links[].queue_delay_s_max")
                check.seconds(link.lateP99Us / 1e6, "links[].late_p99_us")
                check.seconds(link.lateMaxUs / 1e6, "links[].late_max_us")
            }
        case .stop(let stop):
            check.text(stop.reason, "reason")
        case .modelPart(let part):
            check.name(part.file, "file")
            check.int(part.offset, "offset", max: Bounds.bytes)
            check.int(part.totalBytes, "total_bytes", max: Bounds.bytes)
            check.text(part.data, "data", max: (ModelPart.maximumBytes + 2) / 3 * 4)
        case .clock(let clock):
            check.int(clock.seq, "seq", max: Bounds.count)
        case .fault(let fault):
            check.name(fault.to, "to")
            if let rate = fault.bandwidthBps, !rate.isFinite || rate < 1e3 || rate > 1e15 {
                check.fail("bandwidth_bps \(rate) is outside 1e3…1e15")
            }
            if let latency = fault.latencyS { check.seconds(latency, "latency_s") }
        case .kill(let kill):
            check.int(kill.fault, "fault", max: Bounds.count)
            check.text(kill.reason, "reason")
        case .inject(let inject):
            check.text(inject.fault, "fault")
            if let reason = inject.reason { check.text(reason, "reason") }
        }
        return check.problem
    }
}

/// Collects the first bound a message breaks.
private struct BoundsCheck {
    private(set) var problem: String?

    mutating func fail(_ message: @autoclosure () -> String) {
        if problem == nil { problem = message() }
    }

    mutating func int(_ value: Int, _ field: String, min: Int = 0, max: Int) {
        if value < min || value > max { fail("\(field) \(value) is outside \(min)…\(max)") }
    }

    mutating func seconds(_ value: Double, _ field: String, positive: Bool = false) {
        let floor = positive ? Double.leastNonzeroMagnitude : 0
        if !value.isFinite || value < floor || value > ControlMessage.Bounds.seconds {
            fail(
                "\(field) \(value) is outside \(positive ? "(0" : "[0")…\(Int(ControlMessage.Bounds.seconds))] seconds")
        }
    }

    mutating func list(_ count: Int, _ field: String, max: Int = ControlMessage.Bounds.list) {
        if count > max { fail("\(field) has \(count) entries, at most \(max)") }
    }

    mutating func name(_ text: String, _ field: String) {
        if text.utf8.count > ControlMessage.Bounds.name {
            fail("\(field) of \(text.utf8.count) bytes, at most \(ControlMessage.Bounds.name)")
        }
    }

    mutating func text(_ text: String, _ field: String, max: Int = ControlMessage.Bounds.text) {
        if text.utf8.count > max { fail("\(field) of \(text.utf8.count) bytes, at most \(max)") }
    }

    mutating func link(_ link: ControlMessage.LinkParameters, _ field: String) {
        seconds(link.alphaS, "\(field).alpha_s")
        // At most a second per byte: slower than any link Straits models by far.
        if !link.betaSPerByte.isFinite || link.betaSPerByte < 0 || link.betaSPerByte > 1 {
            fail("\(field).beta_s_per_byte \(link.betaSPerByte) is outside [0…1] seconds per byte")
        }
        if let cpu = link.cpuPerMessageS { seconds(cpu, "\(field).cpu_per_message_s") }
    }

    mutating func device(_ device: ControlMessage.DeviceStep) {
        int(device.rank, "devices[].rank", max: ControlMessage.Bounds.count)
        for (value, field) in [
            (device.computeS, "compute_s"), (device.commS, "comm_s"), (device.hostS, "host_s"),
            (device.regionS, "region_s"), (device.wanS, "wan_s"), (device.syncS, "sync_s"),
            (device.checkS, "check_s"), (device.waitS ?? 0, "wait_s"), (device.outerS ?? 0, "outer_s"),
            (device.emulatedS ?? 0, "emulated_s"),
        ] {
            seconds(value, "devices[].\(field)")
        }
        int(device.wrong, "devices[].wrong", max: ControlMessage.Bounds.bytes)
        int(device.lanBytes ?? 0, "devices[].lan_bytes", max: ControlMessage.Bounds.bytes)
        int(device.wanBytes ?? 0, "devices[].wan_bytes", max: ControlMessage.Bounds.bytes)
        // Cluster time: any reading of a monotonic clock, shifted by offsets of at most days.
        for (value, field) in [(device.startNs, "start_ns"), (device.endNs, "end_ns")] {
            if let value { int(value, "devices[].\(field)", min: -(1 << 62), max: 1 << 62) }
        }
        if let start = device.startNs, let end = device.endNs, end < start {
            fail("devices[].end_ns \(end) is before start_ns \(start)")
        }
    }

    mutating func traffic(_ traffic: ControlMessage.Traffic) {
        int(traffic.lanTxBytes, "traffic.lan_tx_bytes", max: ControlMessage.Bounds.bytes)
        int(traffic.lanRxBytes, "traffic.lan_rx_bytes", max: ControlMessage.Bounds.bytes)
        int(traffic.rejectedMessages, "traffic.rejected_messages", max: ControlMessage.Bounds.bytes)
        for (field, table) in [("wan_tx_bytes", traffic.wanTxBytes), ("wan_rx_bytes", traffic.wanRxBytes)] {
            list(table.count, "traffic.\(field)", max: 4096)
            for (region, bytes) in table {
                name(region, "traffic.\(field) key")
                int(bytes, "traffic.\(field)[\(region.prefix(64))]", max: ControlMessage.Bounds.bytes)
            }
        }
        list(traffic.arrivals?.count ?? 0, "traffic.arrivals", max: 4096)
        for (region, arrivals) in traffic.arrivals ?? [:] {
            name(region, "traffic.arrivals key")
            int(arrivals.messages, "traffic.arrivals[].messages", max: ControlMessage.Bounds.count)
            for value in [arrivals.lateP50Us, arrivals.lateP99Us, arrivals.lateMaxUs] {
                seconds(value / 1e6, "traffic.arrivals[].late_us")
            }
        }
    }
}
