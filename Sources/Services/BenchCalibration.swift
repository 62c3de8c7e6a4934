import Collectives
import Foundation
import StraitsWire

/// The α-β planner of `straits bench allreduce`, calibrated on this machine: the link's α and β
/// from the start-up probe (the fastest ping-pong and transfer: with a handful of samples their
/// medians moved by 4× from run to run here, the fastest much less); γ, a core's time to reduce
/// a byte, and the copies between a worker's devices, measured as the emulator's model measures
/// them (`HostCalibration`). Two things the probe cannot see are added:
/// - Where a rank's own thread moves its bytes (`tcp`, `shm`), a byte it sends and a byte it
///   receives each cost its core a copy. The probe sends one way, its two copies on two cores at
///   once; an all-reduce sends both ways at once, so each byte costs the core two (measured at
///   P = 2 over tcp before: 1.7–1.8 times the one-way model at 4–64 MiB). Through libzmq its I/O
///   thread makes the copies beside the rank.
/// - The host's ranks share its cores and their memory bandwidth: each rank's costs grow by
///   ranks ÷ the cores' worth the host gives at once. That is what `hier`'s streams share there
///   (not a wire, as between hosts).
enum BenchCalibration {
    /// Worker 0's host: a core's reduce and copy rates (medians of 5 runs over buffers larger
    /// than the caches), and the cores' worth all its cores give at once.
    static func measureHost() -> HostCalibration {
        HostCalibration.measure(seconds: 0.01, rounds: 5)
    }

    static func planner(params: BenchMessage.Link, transport: String, ranksOnHost: Int) -> AllReducePlanner {
        let link = LinkCost(alphaSeconds: params.alphaS, betaSecondsPerByte: params.betaSPerByte)
        let defaults = AllReducePlanner(link: link)
        // Memory-bound work on every core at once gets `cores` cores' worth (1.3–1.9 of 2 here),
        // so each of the host's ranks gets ranks ÷ cores less than a core of its own.
        let cores = params.cores ?? Double(ProcessInfo.processInfo.activeProcessorCount)
        let share = max(1, Double(ranksOnHost) / max(cores, 0.1))
        let duplex: Double = ["tcp", "shm"].contains(transport) ? 2 : 1
        var planner = AllReducePlanner(
            link: LinkCost(
                alphaSeconds: link.alphaSeconds * share, betaSecondsPerByte: link.betaSecondsPerByte * duplex * share),
            local: LinkCost(
                alphaSeconds: defaults.local.alphaSeconds * share,
                betaSecondsPerByte: (params.copySPerByte ?? defaults.local.betaSecondsPerByte) * share),
            reduceSecondsPerByte: (params.reduceSPerByte ?? defaults.reduceSecondsPerByte) * share)
        // On one host the streams of `hier` share cores, which `share` counts, not a wire.
        planner.streamsShareLink = duplex == 1
        return planner
    }
}
