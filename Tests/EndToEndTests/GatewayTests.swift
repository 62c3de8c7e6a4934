import Foundation
import StraitsWire
import Testing
import ZeroMQ

/// A real `straits-gateway` process, driven by this test acting as its coordinator.
@Suite("gateway: a real process shaping a link", .serialized)
struct GatewayTests {
    /// Route frame: magic STRG and the destination rank, little-endian.
    static func route(_ rank: UInt32) -> [UInt8] {
        [0x53, 0x54, 0x52, 0x47] + withUnsafeBytes(of: rank.littleEndian) { Array($0) }
    }

    /// A message waiting on `socket` (its frame count, payload size, and the time its arrival
    /// frame gives), or nil if none is.
    static func poll(_ socket: inout ZMQSocket) -> (frames: Int, payload: Int, arrivesAt: Int64?)? {
        let result: Result<ZMQMessage, ZMQError> = Result { () throws(ZMQError) -> ZMQMessage in try socket.tryReceive()
        }
        switch consume result {
        case .success(let message):
            return (message.count, message.count > 2 ? message.frameSize(2) : 0, message.withFrame(0) { arrival($0) })
        case .failure: return nil
        }
    }

    /// The time in an arrival frame (magic STRA, the rank, CLOCK_MONOTONIC nanoseconds, the
    /// clock's id), or nil if the frame is not one.
    static func arrival(_ frame: UnsafeRawBufferPointer) -> Int64? {
        guard frame.count == 24, Array(frame.prefix(4)) == [0x53, 0x54, 0x52, 0x41] else { return nil }
        return Int64(littleEndian: frame.loadUnaligned(fromByteOffset: 8, as: Int64.self))
    }

    /// CLOCK_MONOTONIC nanoseconds, the clock of arrival frames.
    static func monotonic() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    static func receiveControl(_ router: inout ZMQSocket) throws -> (route: [UInt8], message: ControlMessage) {
        let message = try router.blockingReceive(timeout: .seconds(20))
        let frames = (0..<message.count).map { message.bytes($0) }
        return (frames[0], try ControlMessage(frames: Array(frames.dropFirst())))
    }

    static func sendControl(_ router: inout ZMQSocket, _ route: [UInt8], _ message: ControlMessage) throws {
        var frames = ZMQMessage(route)
        for frame in message.encoded() { frames.append(frame) }
        try router.blockingSend(frames, timeout: .seconds(5))
    }

    /// Writes the topology of regions a and b, 2 hosts each, joined by one link each way.
    static func writeTopology(_ cluster: LocalCluster, bandwidth: String, latency: String) throws -> String {
        try cluster.write(
            "ab.yaml",
            """
            name: ab
            regions:
              - { name: a, hosts: 2 }
              - { name: b, hosts: 2 }
            links:
              - { between: [a, b], bandwidth: \(bandwidth), latency: \(latency) }
            """)
    }

    /// Starts region a's gateway against `router` (bound here, acting as its coordinator) and
    /// returns the route to it and its join; nil, with the issue recorded, if something else joined.
    static func startGateway(_ cluster: LocalCluster, topology: String, router: inout ZMQSocket, extra: [String] = [])
        throws
        -> (route: [UInt8], join: ControlMessage.Join)?
    {
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        try cluster.startGateways(endpoint, topology: topology, regions: ["a"], extra: extra)
        let (route, joined) = try receiveControl(&router)
        guard case .join(let join) = joined, join.role == "gateway" else {
            Issue.record("expected a gateway join, got \(joined)")
            return nil
        }
        return (route, join)
    }

    /// Sends the gateway of region a, as its coordinator, the plan of 2 regions × 2 hosts whose
    /// ranks 2 and 3 (region b) are `receivers`, and waits for it to take it.
    static func sendPlan(_ router: inout ZMQSocket, _ route: [UInt8], receivers: [String]) throws {
        let plan = ControlMessage.Plan(
            epoch: 1, you: -1, regions: ["a", "b"], devicesPerWorker: 1,
            workers: [
                .init(worker: 0, region: 0, host: 0, firstRank: 0, endpoints: ["tcp://127.0.0.1:1"]),
                .init(worker: 1, region: 0, host: 1, firstRank: 1, endpoints: ["tcp://127.0.0.1:1"]),
                .init(worker: 2, region: 1, host: 0, firstRank: 2, endpoints: [receivers[0]]),
                .init(worker: 3, region: 1, host: 1, firstRank: 3, endpoints: [receivers[1]]),
            ],
            algo: .ring, chunkBytes: 0, maxBytes: 1 << 20, checksums: false, timeoutS: 30,
            lan: .init(alphaS: 1e-4, betaSPerByte: 1e-9), wan: .init(alphaS: 1e-3, betaSPerByte: 1e-7))
        try sendControl(&router, route, .heartbeat(.init(seq: 1)))
        try sendControl(&router, route, .plan(plan))
        usleep(200_000)
    }

    /// Stops region a's gateway as its coordinator would, and expects it to exit 0.
    static func stopGateway(_ cluster: LocalCluster, router: inout ZMQSocket, route: [UInt8]) throws {
        try? sendControl(&router, route, .stop(.init(ok: true, reason: "test over")))
        let gateway = try #require(cluster.workers["gateway-a"])
        #expect(LocalCluster.wait(gateway, timeout: 10) == 0, "\(cluster.log("gateway-a"))")
    }

    @Test("two flows from region A to region B, one of large messages and one of small, each get half the link")
    func contention() throws {
        let cluster = try LocalCluster(name: "contention")
        let topology = try Self.writeTopology(cluster, bandwidth: "40Mbps", latency: "2ms")
        var router = try ZMQSocket(.router, linger: .zero)
        guard let (gatewayRoute, join) = try Self.startGateway(cluster, topology: topology, router: &router) else {
            return
        }
        let ingress = join.endpoints[1]

        // Ranks 2 and 3 live in region b: this test's receivers.
        var receiver0 = try ZMQSocket(.pull, linger: .zero)
        var receiver1 = try ZMQSocket(.pull, linger: .zero)
        let receiverEndpoints = [try receiver0.bind("tcp://127.0.0.1:*"), try receiver1.bind("tcp://127.0.0.1:*")]
        try Self.sendPlan(&router, gatewayRoute, receivers: receiverEndpoints)

        // Flow 0 → rank 2: 4 messages of 640 KiB; flow 1 → rank 3: 40 messages of 64 KiB. Same bytes.
        let flows: [(source: UInt32, destination: UInt32, messages: Int, size: Int)] = [
            (0, 2, 4, 640 << 10), (1, 3, 40, 64 << 10),
        ]
        var sender0 = try ZMQSocket(.push, linger: .zero)
        var sender1 = try ZMQSocket(.push, linger: .zero)
        try sender0.connect(ingress)
        try sender1.connect(ingress)
        usleep(100_000)
        let start = Self.monotonic()
        for message in 0..<40 {
            for (index, flow) in flows.enumerated() where message < flow.messages {
                let header = DataFrameHeader(
                    sourceRank: flow.source, step: 0, collectiveID: 1, tag: UInt64(message),
                    offsetBytes: 0, lengthBytes: UInt64(flow.size))
                var frames = ZMQMessage(Self.route(flow.destination))
                frames.append(header.encoded)
                frames.append([UInt8](repeating: 1, count: flow.size))
                if index == 0 {
                    try sender0.blockingSend(frames, timeout: .seconds(5))
                } else {
                    try sender1.blockingSend(frames, timeout: .seconds(5))
                }
            }
        }
        // Each flow's completion time: when its last message arrives (both watched together). A
        // rank would hold a message that came before the time on its arrival frame until then.
        var received = [0, 0]
        var finished = [0.0, 0.0]
        let deadline = Date(timeIntervalSinceNow: 20)
        func taken(_ arrivesAt: Int64?) -> Double { Double(max(Self.monotonic(), arrivesAt ?? 0) - start) / 1e9 }
        while (received[0] < flows[0].messages || received[1] < flows[1].messages) && Date() < deadline {
            var progressed = false
            if received[0] < flows[0].messages, let shape = Self.poll(&receiver0) {
                #expect(shape.frames == 3 && shape.payload == flows[0].size && shape.arrivesAt != nil)
                received[0] += 1
                progressed = true
                if received[0] == flows[0].messages { finished[0] = taken(shape.arrivesAt) }
            }
            if received[1] < flows[1].messages, let shape = Self.poll(&receiver1) {
                #expect(shape.frames == 3 && shape.payload == flows[1].size && shape.arrivesAt != nil)
                received[1] += 1
                progressed = true
                if received[1] == flows[1].messages { finished[1] = taken(shape.arrivesAt) }
            }
            if !progressed { usleep(500) }
        }
        #expect(received == [flows[0].messages, flows[1].messages])
        try Self.stopGateway(cluster, router: &router, route: gatewayRoute)

        // Sharing: both finish when the link has carried both flows (2 × 2.5 MiB at 5 MB/s ≈ 1.05 s);
        // served one after the other, the first would finish in half that.
        let bytesPerFlow = Double(640 << 10) * 4 + 64
        let shared = 2 * bytesPerFlow * 8 / 40e6
        for (index, time) in finished.enumerated() {
            let share = bytesPerFlow * 8 / time / 40e6
            #expect(
                abs(share - 0.5) <= 0.5 * 0.15,
                "flow \(index) got \(share) of the link (finished at \(time) s, both by \(shared) s)\n\(cluster.log("gateway-a"))"
            )
        }
    }

    @Test("with two delivery threads racing, every message of every flow arrives once and in order")
    func racingDeliveryThreads() throws {
        let cluster = try LocalCluster(name: "racing-delivery")
        let topology = try Self.writeTopology(cluster, bandwidth: "1Gbps", latency: "1ms")
        var router = try ZMQSocket(.router, linger: .zero)
        guard
            let (gatewayRoute, join) = try Self.startGateway(
                cluster, topology: topology, router: &router,
                extra: ["--delivery-threads", "2"])
        else { return }
        var receiver0 = try ZMQSocket(.pull, linger: .zero)
        var receiver1 = try ZMQSocket(.pull, linger: .zero)
        let receiverEndpoints = [try receiver0.bind("tcp://127.0.0.1:*"), try receiver1.bind("tcp://127.0.0.1:*")]
        try Self.sendPlan(&router, gatewayRoute, receivers: receiverEndpoints)

        // Rank 0 → rank 2 and rank 1 → rank 3, 150 messages each of 4–36 KiB, tags 0…149.
        var sender0 = try ZMQSocket(.push, linger: .zero)
        var sender1 = try ZMQSocket(.push, linger: .zero)
        try sender0.connect(join.endpoints[1])
        try sender1.connect(join.endpoints[1])
        usleep(100_000)
        let count = 150
        for message in 0..<count {
            for flow in 0..<2 {
                let size = (4 << 10) * (1 + (message * 7 + flow) % 9)
                let header = DataFrameHeader(
                    sourceRank: UInt32(flow), step: 0, collectiveID: 1, tag: UInt64(message),
                    offsetBytes: 0, lengthBytes: UInt64(size))
                var frames = ZMQMessage(Self.route(UInt32(flow + 2)))
                frames.append(header.encoded)
                frames.append([UInt8](repeating: UInt8(flow), count: size))
                if flow == 0 {
                    try sender0.blockingSend(frames, timeout: .seconds(5))
                } else {
                    try sender1.blockingSend(frames, timeout: .seconds(5))
                }
            }
        }
        func drain(_ receiver: inout ZMQSocket, flow: Int) throws {
            var tags: [UInt64] = []
            while tags.count < count {
                let message = try receiver.blockingReceive(timeout: .seconds(10))
                #expect(message.count == 3 && message.withFrame(0) { Self.arrival($0) } != nil)
                let header = try message.withFrame(1) { try DataFrameHeader(decoding: $0) }
                #expect(header.sourceRank == UInt32(flow))
                tags.append(header.tag)
            }
            #expect(tags == (0..<UInt64(count)).map { $0 }, "flow \(flow) arrived as \(tags)")
            // Nothing more: each message went once.
            usleep(50_000)
            #expect(Self.poll(&receiver) == nil)
        }
        try drain(&receiver0, flow: 0)
        try drain(&receiver1, flow: 1)
        try Self.stopGateway(cluster, router: &router, route: gatewayRoute)
    }

    @Test(
        "--hold receiver sends a message on at once with its arrival time; --hold gateway sends it at that time",
        arguments: ["receiver", "gateway"])
    func hold(_ hold: String) throws {
        let cluster = try LocalCluster(name: "hold-\(hold)")
        let topology = try Self.writeTopology(cluster, bandwidth: "1Gbps", latency: "300ms")
        var router = try ZMQSocket(.router, linger: .zero)
        guard
            let (gatewayRoute, join) = try Self.startGateway(
                cluster, topology: topology, router: &router,
                extra: ["--hold", hold])
        else { return }
        var receiver0 = try ZMQSocket(.pull, linger: .zero)
        var receiver1 = try ZMQSocket(.pull, linger: .zero)
        try Self.sendPlan(
            &router, gatewayRoute,
            receivers: [try receiver0.bind("tcp://127.0.0.1:*"), try receiver1.bind("tcp://127.0.0.1:*")])
        var sender = try ZMQSocket(.push, linger: .zero)
        try sender.connect(join.endpoints[1])
        usleep(100_000)
        var frames = ZMQMessage(Self.route(2))
        frames.append(
            DataFrameHeader(sourceRank: 0, step: 0, collectiveID: 1, tag: 1, offsetBytes: 0, lengthBytes: 4096).encoded)
        frames.append([UInt8](repeating: 3, count: 4096))
        let sentAt = Self.monotonic()
        try sender.blockingSend(frames, timeout: .seconds(5))
        let message = try receiver0.blockingReceive(timeout: .seconds(10))
        let receivedAt = Self.monotonic()
        let arrivesAt = try #require(message.withFrame(0) { Self.arrival($0) })
        #expect(message.count == 3 && message.frameSize(2) == 4096)
        // The link's latency is 300 ms: the message arrives no sooner after it was sent.
        #expect(arrivesAt - sentAt >= 300_000_000, "arrives \(arrivesAt - sentAt) ns after it was sent")
        if hold == "receiver" {
            // Sent on once its arrival time was settled, long before that time.
            #expect(
                arrivesAt - receivedAt >= 150_000_000,
                "received \(arrivesAt - receivedAt) ns before it arrives\n\(cluster.log("gateway-a"))")
        } else {
            #expect(
                receivedAt >= arrivesAt,
                "received \(arrivesAt - receivedAt) ns before it arrives\n\(cluster.log("gateway-a"))")
        }
        try Self.stopGateway(cluster, router: &router, route: gatewayRoute)
    }

    @Test("a message that reaches the ingress before the gateway has the plan waits for it, and is delivered")
    func beforePlan() throws {
        let cluster = try LocalCluster(name: "before-plan")
        let topology = try cluster.write(
            "ab.yaml",
            """
            name: ab
            regions:
              - { name: a, hosts: 1 }
              - { name: b, hosts: 1 }
            links:
              - { between: [a, b], bandwidth: 1Gbps, latency: 1ms }
            """)
        var router = try ZMQSocket(.router, linger: .zero)
        guard let (gatewayRoute, join) = try Self.startGateway(cluster, topology: topology, router: &router) else {
            return
        }
        var receiver = try ZMQSocket(.pull, linger: .zero)
        let receiverEndpoint = try receiver.bind("tcp://127.0.0.1:*")
        var sender = try ZMQSocket(.push, linger: .zero)
        try sender.connect(join.endpoints[1])
        var frames = ZMQMessage(Self.route(1))
        frames.append(
            DataFrameHeader(sourceRank: 0, step: 0, collectiveID: 1, tag: 7, offsetBytes: 0, lengthBytes: 4096).encoded)
        frames.append([UInt8](repeating: 2, count: 4096))
        try sender.blockingSend(frames, timeout: .seconds(5))
        usleep(300_000)  // the message is at the ingress well before the plan

        let plan = ControlMessage.Plan(
            epoch: 1, you: -1, regions: ["a", "b"], devicesPerWorker: 1,
            workers: [
                .init(worker: 0, region: 0, host: 0, firstRank: 0, endpoints: ["tcp://127.0.0.1:1"]),
                .init(worker: 1, region: 1, host: 0, firstRank: 1, endpoints: [receiverEndpoint]),
            ],
            algo: .ring, chunkBytes: 0, maxBytes: 1 << 20, checksums: false, timeoutS: 30,
            lan: .init(alphaS: 1e-4, betaSPerByte: 1e-9), wan: .init(alphaS: 1e-3, betaSPerByte: 1e-8))
        try Self.sendControl(&router, gatewayRoute, .plan(plan))
        let delivered = try receiver.blockingReceive(timeout: .seconds(10))
        #expect(delivered.count == 3 && delivered.frameSize(2) == 4096)
        try Self.stopGateway(cluster, router: &router, route: gatewayRoute)
        #expect(!cluster.log("gateway-a").contains("dropped"), "\(cluster.log("gateway-a"))")
    }
}
