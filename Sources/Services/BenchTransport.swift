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
        if transport == "shm" {
            let plane = try SharedMemoryPlane(rank: rank)
            // A rank spins while it waits, so two ranks that share a core wait for each other's
            // time slices: with a core for every rank, each rank gets its own (among those its
            // device may use), as Open MPI binds a rank to a core; with fewer, they spin yielding.
            let cpus = try ThreadAffinity.current()
            if ranksOnHost <= cpus.count {
                try ThreadAffinity.pin(to: [cpus[rank % cpus.count]])
            } else {
                plane.yieldsWhileSpinning = true
            }
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
            try SharedMemoryExecutor.run(
                schedule, buffer: buffer, elementCount: elementCount, on: shared, collectiveID: collectiveID,
                timeout: timeout)
        } else {
            try ScheduleExecutor.run(
                schedule, buffer: buffer, elementCount: elementCount, on: sockets!, collectiveID: collectiveID,
                timeout: timeout)
        }
    }
}
