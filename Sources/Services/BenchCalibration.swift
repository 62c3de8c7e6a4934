import Collectives
import Foundation

/// The α-β planner of `straits bench allreduce`, calibrated on this machine: the link's α and β
/// from the start-up probe (the fastest ping-pong and transfer: with a handful of samples their
/// medians moved by 4× from run to run here, the fastest much less), and γ, a core's time to
/// reduce a byte, measured as the emulator's model measures it (`HostCalibration`). Two things
/// the probe cannot see are added:
/// - Where a rank's own thread moves its bytes (`tcp`, `shm`), a byte it sends and a byte it
///   receives each cost its core a copy. The probe sends one way, its two copies on two cores at
///   once; an all-reduce sends both ways at once, so each byte costs the core two (measured at
///   P = 2 over tcp before: 1.7–1.8 times the one-way model at 4–64 MiB). Through libzmq its I/O
///   thread makes the copies beside the rank.
/// - Where a host has more ranks than cores, each rank gets a share of one: its costs grow by
///   ranks ÷ cores. That is what `hier`'s streams share there (not a wire, as between hosts).
enum BenchCalibration {
    /// A worker's γ: the median of 5 runs of the sum kernel over buffers larger than the caches.
    static func measureReduce() -> Double {
        HostCalibration.measure(threads: 1, seconds: 0.01, rounds: 5).reduceSecondsPerByte
    }

    static func planner(
        link: LinkCost, reduceSecondsPerByte: Double?, transport: String, ranksOnHost: Int,
        cores: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> AllReducePlanner {
        let defaults = AllReducePlanner(link: link)
        let share = max(1, Double(ranksOnHost) / Double(max(cores, 1)))
        let duplex: Double = ["tcp", "shm"].contains(transport) ? 2 : 1
        var planner = AllReducePlanner(
            link: LinkCost(
                alphaSeconds: link.alphaSeconds * share, betaSecondsPerByte: link.betaSecondsPerByte * duplex * share),
            local: LinkCost(
                alphaSeconds: defaults.local.alphaSeconds * share,
                betaSecondsPerByte: defaults.local.betaSecondsPerByte * share),
            reduceSecondsPerByte: (reduceSecondsPerByte ?? defaults.reduceSecondsPerByte) * share)
        // On one host the streams of `hier` share cores, which `share` counts, not a wire.
        planner.streamsShareLink = duplex == 1
        return planner
    }
}
