import Collectives
import Foundation
import NUMA
import Transport

/// A bench rank's data plane, and the one call the bench makes of it: run a schedule on the
/// rank's buffer.
/// - `tcp`: ZMTP streams driven by the rank's own thread (`StreamPlane`); with CURVE keys, libzmq
///   sockets instead (the stream plane speaks the NULL mechanism only).
/// - `zmq`: libzmq sockets over TCP, with its I/O thread (`DataPlane`), as the cluster's ranks
///   use them.
/// - `ipc`, `inproc`: libzmq sockets over Unix-domain sockets, or between threads.
/// - `shm`: rings in shared memory (`SharedMemoryPlane`).
/// Over libzmq, devices of the same worker are reached over inproc.
enum BenchTransport {
    case sockets(DataPlane)
    case stream(StreamPlane)
    case shared(SharedMemoryPlane)

    init(
        transport: String, rank: Int, worker: Int, device: Int, devices: Int, ranksOnHost: Int, curve: Bool,
        sharedBufferBytes: Int? = nil
    ) throws {
        // Ranks are pinned to a core, round-robin over the cores their device may use, as Open
        // MPI binds ranks to cores: a rank that spins or sleeps then wakes where it waited, and
        // ranks that share a core take turns there. Worker w's device d takes core w + d, so
        // that the two ends of a stream between workers (device d of each) and the devices of
        // one worker sit on different cores where there are two. (A worker's libzmq I/O thread
        // started before, and is not pinned.) Unpinned, in interleaved runs, 64 KiB to 16 MiB:
        // over the stream plane at P = 2, 0.91-1.05 times as long in a calm spell and 1.0-3.7
        // in a busy one; over shm (direct) at P = 2 and 4, 0.96-1.42; over libzmq tcp at P = 2,
        // 1 MiB took 0.98 ms against 0.69.
        // Over shm, the ranks of a worker with several devices stay on their NUMA node's cores
        // (`DeviceGroup.pin`) instead, each free to run on whichever is idle: they meet at the
        // group's barriers several times a collective, and a thread held to one core waited
        // there for its sibling or another worker's rank. 2 workers × 2 devices on 2 cores,
        // 3-5 interleaved runs, unpinned ÷ pinned: 0.45-0.83 from 64 KiB to 1 MiB, 0.37-1.04
        // from 4 to 64 MiB. Over tcp: 0.44-0.90 up to 4 MiB, but 0.95-1.24 at 16 and 64 MiB,
        // where the streams between workers move most of the bytes, so there they stay pinned.
        let cpus = try ThreadAffinity.current()
        if devices == 1 || transport != "shm" {
            try ThreadAffinity.pin(to: [cpus[(worker + device) % cpus.count]])
        }
        // A rank that polls while it waits yields at every turn where it shares its core.
        let ownCore = ranksOnHost <= cpus.count
        switch transport {
        case "shm":
            let plane = try SharedMemoryPlane(rank: rank, sharedBufferBytes: sharedBufferBytes)
            plane.yieldsWhileSpinning = !ownCore
            self = .shared(plane)
        case "tcp" where !curve:
            let plane = try StreamPlane(rank: rank)
            plane.yieldsWhileSpinning = !ownCore
            self = .stream(plane)
        default:
            var binds = ["inproc://straits-bench-\(getpid())-\(device)"]
            switch transport {
            case "tcp", "zmq": binds.insert("tcp://127.0.0.1:*", at: 0)
            case "ipc": binds.insert("ipc:///tmp/straits-bench-\(getpid())-\(device).sock", at: 0)
            default: break
            }
            self = .sockets(try DataPlane(rank: rank, bind: binds))
        }
    }

    /// The direct all-reduce over the ranks' shared buffers, where the plane has one.
    var host: HostAllReduce? {
        if case .shared(let plane) = self { plane.host } else { nil }
    }

    /// The direct all-reduce of the first `count` elements of the ranks' shared buffers.
    func allReduceDirect(count: Int, ranks: Int, timeout: Duration) throws {
        guard case .shared(let plane) = self else {
            throw RuntimeError(.invalidArgument, "the direct all-reduce needs --transport shm")
        }
        try plane.allReduceDirect(range: ElementRange(offset: 0, count: count), ranks: ranks, timeout: timeout)
    }

    /// What moves the rank's bytes, for the planner: `tcp` and `shm` (the rank's own thread), or
    /// `zmq` (libzmq's I/O thread beside it).
    var kind: String {
        switch self {
        case .sockets: "zmq"
        case .stream: "tcp"
        case .shared: "shm"
        }
    }

    /// The endpoints peers reach the rank at: the one for other workers first.
    var endpoints: [String] {
        switch self {
        case .sockets(let plane): plane.endpoints
        case .stream(let plane): [plane.endpoint]
        case .shared(let plane): [plane.endpoint]
        }
    }

    /// Connects to `peer`: at `local` (its inproc endpoint) if it is a device of the same worker
    /// and the transport has one, else at `remote`.
    func connect(peer: Int, remote: String, local: String?) throws {
        switch self {
        case .sockets(let plane): try plane.connect(peer: peer, endpoint: local ?? remote)
        case .stream(let plane): try plane.connect(peer: peer, endpoint: remote)
        case .shared(let plane): try plane.connect(peer: peer, endpoint: remote)
        }
    }

    func run(
        _ schedule: CollectiveSchedule, buffer: UnsafeMutableRawPointer, elementCount: Int, collectiveID: UInt64,
        timeout: Duration
    ) throws {
        switch self {
        case .sockets(let plane):
            try ScheduleExecutor.run(
                schedule, buffer: buffer, elementCount: elementCount, on: plane, collectiveID: collectiveID,
                timeout: timeout)
        case .stream(let plane):
            try FragmentExecutor.run(
                schedule, buffer: buffer, elementCount: elementCount, on: plane, collectiveID: collectiveID,
                timeout: timeout)
        case .shared(let plane):
            try FragmentExecutor.run(
                schedule, buffer: buffer, elementCount: elementCount, on: plane, collectiveID: collectiveID,
                timeout: timeout)
        }
    }
}
