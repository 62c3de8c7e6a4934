import Collectives
import Foundation
import NUMA
import Transport

/// A bench rank's data plane: ZeroMQ sockets (tcp, ipc, inproc) or rings in shared memory
/// (shm), and the one call the bench makes of either: run a schedule on the rank's buffer.
struct BenchTransport {
    let sockets: DataPlane?
    let shared: SharedMemoryPlane?

    /// Binds the rank's inbox for `transport`; same-worker peers are reached over inproc, except
    /// over shm, where every peer has rings.
    init(transport: String, rank: Int, device: Int, ranksOnHost: Int) throws {
        // Ranks are pinned round-robin over the cores their device may use, as Open MPI binds
        // ranks to cores: a rank that spins or sleeps then wakes where it waited, ranks that
        // share a core take turns there, and a rank's libzmq I/O thread (started after this)
        // stays beside it. Measured (medians of 4 interleaved runs each): over tcp at P = 2,
        // 1 MiB in 0.69 ms against 0.98 ms unpinned; over shm with 4 ranks on 2 cores, 64 KiB
        // to 1 MiB 10-18% faster than unpinned (4 MiB 22% slower).
        let cpus = try ThreadAffinity.current()
        try ThreadAffinity.pin(to: [cpus[rank % cpus.count]])
        let ownCore = ranksOnHost <= cpus.count
        if transport == "shm" {
            let plane = try SharedMemoryPlane(rank: rank)
            // A rank spins while it waits; without a core of its own it yields as it spins.
            plane.yieldsWhileSpinning = !ownCore
            shared = plane
            sockets = nil
            return
        }
        var binds = ["inproc://straits-bench-\(getpid())-\(device)"]
        switch transport {
        case "tcp": binds.insert("tcp://127.0.0.1:*", at: 0)
        case "ipc": binds.insert("ipc:///tmp/straits-bench-\(getpid())-\(device).sock", at: 0)
        default: break
        }
        sockets = try DataPlane(rank: rank, bind: binds)
        shared = nil
    }

    /// A plane of sockets made elsewhere (a cluster worker's rank).
    init(sockets: DataPlane) {
        self.sockets = sockets
        shared = nil
    }

    /// The endpoints peers reach the rank at: the one for other workers first.
    var endpoints: [String] { shared.map { [$0.endpoint] } ?? sockets!.endpoints }

    /// Connects to `peer`: at `local` (its inproc endpoint) if it is a device of the same worker
    /// and the transport has one, else at `remote`.
    func connect(peer: Int, remote: String, local: String?) throws {
        if let shared {
            try shared.connect(peer: peer, endpoint: remote)
        } else {
            try sockets!.connect(peer: peer, endpoint: local ?? remote)
        }
    }

    func run(
        _ schedule: CollectiveSchedule, buffer: UnsafeMutableRawPointer, elementCount: Int, collectiveID: UInt64,
        timeout: Duration
    ) throws {
        if let shared {
            try FragmentExecutor.run(
                schedule, buffer: buffer, elementCount: elementCount, on: shared, collectiveID: collectiveID,
                timeout: timeout)
        } else {
            try ScheduleExecutor.run(
                schedule, buffer: buffer, elementCount: elementCount, on: sockets!, collectiveID: collectiveID,
                timeout: timeout)
        }
    }
}
