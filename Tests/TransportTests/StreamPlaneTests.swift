import CStraitsShims
import Collectives
import Foundation
import StraitsWire
import Testing
import ZeroMQ

@testable import Transport

@Suite("all-reduce over ZMTP streams on the ranks' own threads", .serialized)
struct StreamPlaneTests {
    /// `ranks` stream planes on loopback, each connected to every other.
    static func planes(_ ranks: Int) throws -> [StreamPlane] {
        let planes = try (0..<ranks).map { try StreamPlane(rank: $0) }
        for plane in planes {
            for peer in planes where peer.rank != plane.rank {
                try plane.connect(peer: peer.rank, endpoint: peer.endpoint)
            }
        }
        return planes
    }

    @Test(
        "every flat algorithm is exact on every rank: random ranks, sizes, chunks and misaligned buffers, collectives back to back",
        arguments: 0..<15)
    func property(_ seed: Int) async throws {
        let algorithm = [AllReduceAlgorithm.ring, .rhd, .rd][seed % 3]
        let ranks = SharedMemoryTests.draw(seed, 11, 2...5)
        let count = [
            0, 1, 7, SharedMemoryTests.draw(seed, 12, 2...5000), SharedMemoryTests.draw(seed, 13, 5000...600_000),
        ][
            seed % 5]
        let chunk = max(1, [count, 1 + count / 3, SharedMemoryTests.draw(seed, 14, 1...70_000)][seed % 3])
        let misalignment = [0, 4, 8, 12][seed % 4]
        let planes = try Self.planes(ranks)
        let wrong = try await fragmentAllReduce(
            planes, algorithm: algorithm, count: count, chunk: chunk, misalignment: misalignment)
        #expect(
            wrong == Array(repeating: [0, 0, 0], count: ranks),
            "\(algorithm), \(ranks) ranks, \(count) elements, chunk \(chunk), offset \(misalignment)")
        #expect(planes.allSatisfy { $0.rejected == 0 && $0.early.count == 0 })
    }

    /// A data message as libzmq sends it: the header frame and the payload frame.
    static func message(from source: Int, collective: UInt64, values: [Float]) -> ZMQMessage {
        var header = DataFrameHeader(
            sourceRank: UInt32(source), step: 0, collectiveID: collective, tag: 0, offsetBytes: 0,
            lengthBytes: UInt64(values.count * 4))
        header.epoch = 0
        var message = ZMQMessage()
        message.append(header.encoded)
        values.withUnsafeBytes { message.append(copying: $0) }
        return message
    }

    @Test("a libzmq PUSH socket sends to the stream plane, and the stream plane sends to a libzmq PULL socket")
    func libzmqBothWays() async throws {
        let plane = try StreamPlane(rank: 0)
        // libzmq → plane: rank 1 is a libzmq PUSH; rank 0 receives a copy of its 4 values.
        var push = try ZMQSocket(.push, linger: .seconds(1))
        try push.connect(plane.endpoint)
        try push.blockingSend(Self.message(from: 1, collective: 5, values: [1, 2, 3, 4]), timeout: .seconds(5))
        var schedule = CollectiveSchedule(rank: 0, ranks: 2)
        schedule.add(.receiveCopy(peer: 1), ElementRange(offset: 0, count: 4), tag: 0)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16)
        defer { buffer.deallocate() }
        try FragmentExecutor.run(
            schedule, buffer: buffer, elementCount: 4, on: plane, collectiveID: 5, timeout: .seconds(10))
        #expect(
            Array(UnsafeBufferPointer(start: buffer.assumingMemoryBound(to: Float.self), count: 4)) == [1, 2, 3, 4])

        // plane → libzmq: rank 0 sends its buffer to a libzmq PULL standing in for rank 1.
        var pull = try ZMQSocket(.pull, linger: .zero)
        let endpoint = try pull.bind("tcp://127.0.0.1:*")
        try plane.connect(peer: 1, endpoint: endpoint)
        var send = CollectiveSchedule(rank: 0, ranks: 2)
        send.add(.send(peer: 1), ElementRange(offset: 0, count: 4), tag: 0)
        try FragmentExecutor.run(
            send, buffer: buffer, elementCount: 4, on: plane, collectiveID: 6, timeout: .seconds(10))
        let received = try pull.blockingReceive(timeout: .seconds(10))
        #expect(received.count == 2)
        let header = try received.bytes(0).withUnsafeBytes { try DataFrameHeader(decoding: $0) }
        #expect(header.sourceRank == 0 && header.collectiveID == 6 && header.lengthBytes == 16)
        #expect(received.bytes(1) == [Float(1), 2, 3, 4].withUnsafeBytes(Array.init))
    }

    /// Connects a raw TCP socket to `plane`, writes `bytes`, and polls the plane for a while.
    static func stranger(_ plane: StreamPlane, writes bytes: [UInt8]) throws -> Int32 {
        guard let (host, rest) = DataTransport.host(ofTCP: plane.endpoint), let port = Int32(rest.dropFirst()) else {
            throw RuntimeError(.invalidArgument, "endpoint")
        }
        let fd = straits_tcp_connect(host, port, 2000)
        #expect(fd >= 0)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        for _ in 0..<50 {
            _ = try plane.poll { _ in }
            usleep(2000)
        }
        return fd
    }

    @Test(
        "strangers are dropped with a reason and the plane goes on: no greeting, another mechanism, a PUB, a command after READY, a frame too large, a wrong first frame"
    )
    func strangers() async throws {
        let plane = try StreamPlane(rank: 0)
        let ready = ZMTP.ready(socketType: "PUSH")
        var curve = ZMTP.greeting
        for (index, byte) in "CURVE".utf8.enumerated() { curve[12 + index] = byte }
        let cases: [[UInt8]] = [
            Array("GET / HTTP/1.1\r\n\r\n".utf8) + [UInt8](repeating: 0, count: 64),
            curve + ready,
            ZMTP.greeting + ZMTP.ready(socketType: "PUB"),
            ZMTP.greeting + ready + ZMTP.frameHeader(flags: ZMTP.Flag.command, size: 4) + [4, 80, 73, 78],
            ZMTP.greeting + ready + ZMTP.frameHeader(flags: ZMTP.Flag.more, size: 64)
                + [UInt8](repeating: 1, count: 64),
            ZMTP.greeting + ready + ZMTP.frameHeader(flags: 0, size: 1 << 40),
        ]
        var fds: [Int32] = []
        for (index, bytes) in cases.enumerated() {
            fds.append(try Self.stranger(plane, writes: bytes))
            #expect(plane.rejected == index + 1, "case \(index)")
        }
        for fd in fds { close(fd) }
        // The plane still works: a pair all-reduce after the strangers.
        let planes = [plane, try StreamPlane(rank: 1)]
        try planes[0].connect(peer: 1, endpoint: planes[1].endpoint)
        try planes[1].connect(peer: 0, endpoint: planes[0].endpoint)
        let wrong = try await onThreads(2) { rank -> Int in
            let (schedule, buffer) = SharedMemoryTests.pairRing(rank: rank, count: 1000)
            defer { buffer.deallocate() }
            try FragmentExecutor.run(
                schedule, buffer: buffer, elementCount: 1000, on: planes[rank], collectiveID: 1, timeout: .seconds(10))
            return ExactPattern.countWrong(buffer, count: 1000, ranks: 2)
        }
        #expect(wrong == [0, 0])
        #expect(plane.rejected == cases.count)
    }

    @Test("a peer that never writes makes the collective time out with a clear error")
    func timeout() throws {
        let planes = try Self.planes(2)
        let (schedule, buffer) = SharedMemoryTests.pairRing(rank: 0, count: 8)
        defer { buffer.deallocate() }
        let error = #expect(throws: RuntimeError.self) {
            try FragmentExecutor.run(
                schedule, buffer: buffer, elementCount: 8, on: planes[0], collectiveID: 1, timeout: .milliseconds(300))
        }
        #expect(error?.kind == .timedOut && error?.description.contains("timed out") == true)
    }
}
