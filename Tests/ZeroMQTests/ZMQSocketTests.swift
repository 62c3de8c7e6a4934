import CZeroMQ
import Foundation
import Synchronization
import Testing

@testable import ZeroMQ

@Suite("ZeroMQ sockets", .serialized)
struct ZMQSocketTests {
    @Test("multipart round trip, async", arguments: Transport.allCases)
    func multipartRoundTripAsync(transport: Transport) async throws {
        try await withConnectedPair(transport, .router, .dealer) { router, dealer in
            var request = ZMQMessage()
            request.append("header")
            request.append(pattern(100_003))
            request.append([])
            try await dealer.send(request, timeout: .seconds(10))

            let received = try await router.receive(timeout: .seconds(10)).allFrames
            #expect(received.count == 4)  // routing id + 3 frames
            #expect(received.dropFirst().map { $0 } == [utf8("header"), pattern(100_003), []])

            var reply = ZMQMessage()
            reply.append(received[0])
            reply.append("ack")
            reply.append(pattern(7, seed: 9))
            try await router.send(reply, timeout: .seconds(10))
            let answer = try await dealer.receive(timeout: .seconds(10)).allFrames
            #expect(answer == [utf8("ack"), pattern(7, seed: 9)])
        }
    }

    @Test("multipart round trip, blocking", arguments: Transport.allCases)
    func multipartRoundTripBlocking(transport: Transport) async throws {
        try await withConnectedPair(transport, .pair, .pair) { left, right in
            for round in 0..<20 {
                var message = ZMQMessage()
                message.append("round \(round)")
                message.append(pattern(round * 997, seed: UInt8(round)))
                try left.blockingSend(message, timeout: .seconds(10))
                let got = try right.blockingReceive(timeout: .seconds(10)).allFrames
                #expect(got == [utf8("round \(round)"), pattern(round * 997, seed: UInt8(round))])
            }
        }
    }

    @Test("PUSH to PULL keeps order", arguments: Transport.allCases)
    func pushPullOrder(transport: Transport) async throws {
        try await withConnectedPair(transport, .pull, .push) { pull, push in
            for index in 0..<200 { try await push.send(ZMQMessage("\(index)"), timeout: .seconds(10)) }
            for index in 0..<200 {
                let text = try await pull.receive(timeout: .seconds(10)).string(0)
                #expect(text == "\(index)")
            }
        }
    }

    @Test("a 64 MiB zero-copy send releases its owner exactly once, after delivery", arguments: Transport.allCases)
    func zeroCopyRelease(transport: Transport) async throws {
        let size = 64 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        defer { buffer.deallocate() }
        for index in stride(from: 0, to: size, by: 8) {
            buffer.storeBytes(of: UInt64(index) &* 0x9E37_79B9_7F4A_7C15, toByteOffset: index, as: UInt64.self)
        }
        let releases = Counter()
        let ownerDeinits = Counter()
        let received = try await withConnectedPair(transport, .pull, .push) { pull, push -> Bool in
            var message = ZMQMessage()
            message.append("bulk")
            do {
                let owner = CountingOwner(deinits: ownerDeinits)
                message.append(zeroCopy: UnsafeRawBufferPointer(buffer), owner: owner) {
                    releases.increment()
                }
            }
            #expect(ownerDeinits.value == 0, "the frame keeps its owner alive")
            try await push.send(message, timeout: .seconds(30))
            let got = try await pull.receive(timeout: .seconds(30))
            let (frames, payloadSize) = (got.count, got.frameSize(1))
            #expect(frames == 2)
            #expect(payloadSize == size)
            let intact = got.withFrame(1) { payload in
                stride(from: 0, to: size, by: 8).allSatisfy {
                    payload.loadUnaligned(fromByteOffset: $0, as: UInt64.self) == UInt64($0) &* 0x9E37_79B9_7F4A_7C15
                }
            }
            if transport == .inproc {
                // inproc hands the very same buffer to the receiver: it must not be released
                // while the receiver still holds the message.
                #expect(releases.value == 0)
            }
            return intact
        }
        #expect(received, "every byte arrived intact")
        #expect(await eventually { releases.value >= 1 })
        try await Task.sleep(for: .milliseconds(50))
        #expect(releases.value == 1)
        #expect(ownerDeinits.value == 1)
    }

    @Test("a receive with a deadline times out instead of hanging")
    func receiveTimesOut() async throws {
        var pull = try ZMQSocket(.pull)
        try pull.bind(Transport.inproc.endpoint("nobody"))
        let start = ContinuousClock.now
        let error = await #expect(throws: ZMQError.self) { _ = try await pull.receive(timeout: .milliseconds(150)) }
        #expect(error?.code == .timedOut)
        #expect(ContinuousClock.now - start >= .milliseconds(150))

        let blockingStart = ContinuousClock.now
        #expect(throws: ZMQError.self) { _ = try pull.blockingReceive(timeout: .milliseconds(100)) }
        #expect(ContinuousClock.now - blockingStart >= .milliseconds(100))
    }

    @Test(
        "a doorbell ends a blocking receive: rung, or at the time set on it, never before; a waiting message comes first"
    )
    func doorbell() throws {
        func monotonic() -> Int64 {
            var spec = timespec()
            clock_gettime(CLOCK_MONOTONIC, &spec)
            return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
        }
        var pull = try ZMQSocket(.pull, linger: .zero)
        let endpoint = try pull.bind(Transport.inproc.endpoint("doorbell"))
        let doorbell = try ZMQDoorbell()
        // Rung before the wait: the wait ends at once.
        doorbell.ring()
        if try pull.blockingReceive(timeout: .seconds(5), wakingOn: doorbell) != nil {
            Issue.record("a message, with none sent")
        }
        // Set to ring 80 ms from now: not before.
        let at = monotonic() + 80_000_000
        doorbell.ring(at: at)
        if try pull.blockingReceive(timeout: .seconds(5), wakingOn: doorbell) != nil {
            Issue.record("a message, with none sent")
        }
        #expect(monotonic() >= at)
        // A message that is waiting comes first.
        var push = try ZMQSocket(.push, linger: .zero)
        try push.connect(endpoint)
        try push.blockingSend(ZMQMessage("hello"), timeout: .seconds(5))
        guard let message = try pull.blockingReceive(timeout: .seconds(5), wakingOn: doorbell) else {
            Issue.record("the doorbell, not the waiting message")
            return
        }
        #expect(message.string(0) == "hello")
        // Nothing rings: the deadline.
        let start = ContinuousClock.now
        let error = #expect(throws: ZMQError.self) {
            _ = try pull.blockingReceive(timeout: .milliseconds(100), wakingOn: doorbell)
        }
        #expect(error?.code == .timedOut && ContinuousClock.now - start >= .milliseconds(100))
    }

    @Test("would-block is reported, and trySend gives the message back")
    func wouldBlock() throws {
        var pull = try ZMQSocket(.pull)
        try pull.bind(Transport.inproc.endpoint("empty"))
        #expect {
            _ = try pull.tryReceive()
        } throws: { ($0 as? ZMQError)?.code == .wouldBlock }

        var lonelyPush = try ZMQSocket(.push)  // no peer: a PUSH can't queue anywhere
        var message = ZMQMessage("kept")
        message.append(pattern(10))
        guard let returned = try lonelyPush.trySend(message) else {
            Issue.record("a PUSH without peers took the message")
            return
        }
        let (count, text, bytes) = (returned.count, returned.string(0), returned.bytes(1))
        #expect(count == 2)
        #expect(text == "kept")
        #expect(bytes == pattern(10))
    }

    @Test("a shut-down context fails pending and later operations with terminated")
    func terminated() async throws {
        let context = try ZMQContext()
        try await withConnectedPair(.inproc, .pull, .push, context: context) { pull, _ in
            let started = ContinuousClock.now
            // Its own thread, not a task: the shutdown must come while the receive waits, even
            // when the other tests running alongside keep the cooperative pool's threads busy.
            let shutdown = Thread {
                Thread.sleep(forTimeInterval: 0.1)
                context.shutdown()
            }
            shutdown.start()
            let error = await #expect(throws: ZMQError.self) { _ = try await pull.receive(timeout: .seconds(30)) }
            #expect(error?.code == .terminated)
            #expect(error?.description.contains("Context was terminated") == true)
            #expect(ContinuousClock.now - started < .seconds(30))
            #expect { _ = try pull.tryReceive() } throws: { ($0 as? ZMQError)?.code == .terminated }
        }
    }

    @Test("closing a context with unsent messages returns within the linger time")
    func contextCloseWithPendingMessages() async throws {
        let linger = Duration.milliseconds(300)
        var context: ZMQContext? = try ZMQContext()
        do {
            var push = try ZMQSocket(.push, context: context!, linger: linger)
            // Nobody listens there: the messages stay queued for a connection that never comes.
            try push.connect("tcp://127.0.0.1:1")
            for index in 0..<10 {
                #expect(try push.trySend(ZMQMessage(pattern(1000, seed: UInt8(index)))) == nil)
            }
        }
        let start = ContinuousClock.now
        context = nil  // zmq_ctx_term: waits for the lingering messages at most `linger`
        let elapsed = ContinuousClock.now - start
        #expect(context == nil)
        #expect(elapsed < linger + .seconds(2), "took \(elapsed)")
    }

    @Test("router-mandatory reports an unknown peer")
    func routerMandatory() throws {
        var router = try ZMQSocket(.router)
        try router.setRouterMandatory(true)
        try router.bind(Transport.inproc.endpoint("router"))
        #expect {
            var message = ZMQMessage("no-such-peer")
            message.append("hello")
            _ = try router.trySend(message)
        } throws: { ($0 as? ZMQError)?.code == .hostUnreachable }
    }

    @Test("routing ids name DEALER peers at the ROUTER")
    func routingID() async throws {
        try await withConnectedPair(.tcp, .router, .dealer) { router, _ in
            // The pair helper connects before the option could be set: use a fresh dealer.
            var named = try ZMQSocket(.dealer)
            try named.setRoutingID(Array("worker-7".utf8))
            try named.connect(router.endpoint)
            try await named.send(ZMQMessage("hi"), timeout: .seconds(10))
            let got = try await router.receive(timeout: .seconds(10))
            let (id, text) = (got.string(0), got.string(1))
            #expect(id == "worker-7")
            #expect(text == "hi")
        }
    }

    @Test("a cancelled receive throws cancelled and leaves the socket usable")
    func cancellation() async throws {
        try await withConnectedPair(.inproc, .pull, .push) { pull, push in
            let endpoint = pull.endpoint
            let waiter = Task {
                var other = try ZMQSocket(.pull)
                try other.bind(endpoint + "-cancel")
                return try await other.receive(timeout: .seconds(30)).count
            }
            try await Task.sleep(for: .milliseconds(50))
            waiter.cancel()
            let result = await waiter.result
            #expect(throws: ZMQError.self) { _ = try result.get() }
            if case .failure(let error as ZMQError) = result { #expect(error.code == .cancelled) }

            let alreadyCancelled = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                var other = try ZMQSocket(.pull)
                try other.bind(endpoint + "-precancel")
                return try await other.receive(timeout: .seconds(30)).count
            }
            if case .failure(let error as ZMQError) = await alreadyCancelled.result {
                #expect(error.code == .cancelled)
            } else {
                Issue.record("a receive in a cancelled task should fail with cancelled")
            }

            try await push.send(ZMQMessage("after"), timeout: .seconds(10))
            let after = try await pull.receive(timeout: .seconds(10)).string(0)
            #expect(after == "after")
        }
    }

    @Test("64 concurrent async receivers on the cooperative pool all complete", .timeLimit(.minutes(2)))
    func manyConcurrentReceivers() async throws {
        let receivers = 64
        let base = Transport.inproc.endpoint("fanout")
        let waiting = Counter()
        try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<receivers {
                group.addTask {
                    var pull = try ZMQSocket(.pull)
                    try pull.bind("\(base)-\(index)")
                    waiting.increment()
                    return try await pull.receive(timeout: .seconds(60)).string(0)
                }
            }
            // Only once every receiver is suspended in its wait does anything get sent. If a
            // receive held one of the pool's threads, the later receivers (and this sender)
            // could never run on a 2-core machine.
            #expect(await eventually(within: .seconds(60)) { waiting.value == receivers })
            try await Task.sleep(for: .milliseconds(50))
            for index in 0..<receivers {
                var push = try ZMQSocket(.push)
                try push.connect("\(base)-\(index)")
                try await push.send(ZMQMessage("to \(index)"), timeout: .seconds(10))
            }
            var seen = Set<String>()
            for try await text in group { seen.insert(text) }
            #expect(seen == Set((0..<receivers).map { "to \($0)" }))
        }
    }

    @Test("ZMTP heartbeats and CURVE encryption")
    func heartbeatAndCurve() async throws {
        #expect(ZMQContext.has("curve"))
        let server = try ZMQCurveKeyPair.generate()
        let client = try ZMQCurveKeyPair.generate()
        #expect(server.publicKey.utf8.count == 40)

        var router = try ZMQSocket(.router)
        try router.setCurveServer(secretKey: server.secretKey)
        try router.setHeartbeat(interval: .milliseconds(100), timeout: .seconds(1), ttl: .seconds(2))
        let endpoint = try router.bind("tcp://127.0.0.1:*")

        var good = try ZMQSocket(.dealer)
        try good.setCurveClient(serverKey: server.publicKey, publicKey: client.publicKey, secretKey: client.secretKey)
        try good.setHeartbeat(interval: .milliseconds(100), timeout: .seconds(1))
        try good.connect(endpoint)
        try await good.send(ZMQMessage("sealed"), timeout: .seconds(10))
        let got = try await router.receive(timeout: .seconds(10)).string(1)
        #expect(got == "sealed")

        // A client that trusts another server key never completes the handshake.
        let impostor = try ZMQCurveKeyPair.generate()
        var bad = try ZMQSocket(.dealer, linger: .zero)
        try bad.setCurveClient(serverKey: impostor.publicKey, publicKey: client.publicKey, secretKey: client.secretKey)
        try bad.connect(endpoint)
        _ = try bad.trySend(ZMQMessage("forged"))
        let error = await #expect(throws: ZMQError.self) { _ = try await router.receive(timeout: .milliseconds(500)) }
        #expect(error?.code == .timedOut)
    }

    @Test("errors carry libzmq's text and what was being done")
    func errorText() throws {
        var socket = try ZMQSocket(.pull)
        let error = #expect(throws: ZMQError.self) { try socket.bind("bogus://nowhere") }
        #expect(error?.code == .invalidArgument)
        #expect(error?.description.hasPrefix("zmq_bind(bogus://nowhere): ") == true)
        #expect(ZMQError(errno: EAGAIN, operation: "x").code == .wouldBlock)
        #expect(ZMQError(errno: ETERM, operation: "x").code == .terminated)
        #expect(ZMQError(errno: ETERM, operation: "x").reason == "Context was terminated")
    }
}
