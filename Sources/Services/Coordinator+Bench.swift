import ClusterCore
import Collectives
import Emulation
import Foundation
import Logging
import StraitsWire
import Telemetry
import Transport

extension Coordinator {
    /// A bench job: every size's iterations after warm-up, a table row per size in the style of
    /// nccl-tests, with the model's prediction beside it, and a bench.jsonl line per size.
    func runBench() throws {
        let sizes = job.benchSizes
        let ranks = topology.deviceCount
        log.info(
            "all-reduce benchmark over the cluster: \(ranks) ranks, sizes \(sizes.first!)…\(sizes.last!), \(job.iterations) iterations after \(job.warmupIterations) warm-up"
        )
        emit(BenchRow.header(model: true))
        var step = 0
        var rows: [BenchRow] = []
        // The workers' data transport, from their endpoints.
        let transport = Set(
            membership.workers.flatMap { $0.join.endpoints.compactMap { DataTransport(endpoint: $0)?.rawValue } }
        )
        .sorted().joined(separator: "+")
        for size in sizes {
            var times: [Double] = []
            // The slowest rank's own time, beside the makespan the row is made of.
            var rankTimes: [Double] = []
            var levels: [(host: Double, region: Double, wan: Double)] = []
            var wrong = 0
            var planText = ""
            let (chunk, choice, prediction) = modelChoice(bytes: size)
            // Ranks that leave it to the coordinator spin for arrivals only where the model, with
            // those spins on the cores, leaves this machine's cores at least half idle: elsewhere
            // a spin takes a core the other ranks' and the gateways' work needs, and costs more
            // time than the wake-up it saves.
            let approach = prediction.coresBusy(spinningPerArrival: Self.spinPerArrivalSeconds).map {
                $0 < CollectiveSimulator.headroomBusy
            }
            for iteration in 0..<(job.warmupIterations + job.iterations) {
                let result = try runStep(
                    step, bytes: size, computeS: 0, collective: CollectiveIDs.step(step),
                    approachArrivals: approach, chunkBytes: chunk)
                step += 1
                wrong += result.wrong
                planText = result.plan
                if iteration >= job.warmupIterations {
                    times.append(result.tally.makespanS ?? result.comm)
                    rankTimes.append(result.comm)
                    levels.append((result.tally.hostS, result.tally.regionS, result.tally.wanS))
                }
            }
            let predicted = prediction.seconds
            let row = BenchRow(
                sizeBytes: size, ranks: ranks, times: times, wrong: wrong, plan: planText, predicted: predicted)
            rows.append(row)
            let median = row.median
            let linkSeconds = simulator!.busiestLinkSeconds(choice, bytes: size)
            let host = levels.map(\.host).median
            let regionLevel = levels.map(\.region).median
            let wanLevel = levels.map(\.wan).median
            // Per level: the bytes each rank all-reduces there, and busbw over that level's ranks.
            let hostsPerRegion = max(choice.regionHosts, 1)
            let regionCount = max(choice.regions, 1)
            let devices = max(choice.devices, 1)
            func levelBusbw(_ bytes: Double, _ p: Int, _ seconds: Double) -> Double {
                p > 1 && seconds > 0 ? bytes / seconds / 1e9 * 2 * Double(p - 1) / Double(p) : 0
            }
            let sliceBytes = Double(size) / Double(devices)
            emit(row.line)
            // The busiest link's serialisation time against the whole: bandwidth is the bound when
            // it is at least 90% of the model's time (so that a faithful emulation keeps that link
            // at least 90% busy); utilisation is its share of the measured time.
            let cluster = BenchRecord.Cluster(
                linkBound: linkSeconds >= 0.9 * predicted, linkUtilisation: linkSeconds / median,
                modelCoresBusy: prediction.coresBusy, approachArrivals: approach, hierarchical: choice.hierarchical,
                rankUs: rankTimes.median * 1e6, hostUs: host * 1e6, regionUs: regionLevel * 1e6,
                wanUs: wanLevel * 1e6,
                hostBusbwGbps: levelBusbw(Double(size), devices, host),
                regionBusbwGbps: levelBusbw(sliceBytes, hostsPerRegion, regionLevel),
                wanBusbwGbps: levelBusbw(sliceBytes / Double(hostsPerRegion), regionCount, wanLevel))
            run.bench.append(encoding: BenchRecord(row, algorithm: planText, transport: transport, cluster: cluster))
            if wrong > 0 { throw Abort(description: "size \(size): \(wrong) elements of the all-reduce are wrong") }
        }
        for line in BenchRow.footer(rows) { emit(line) }
    }
}
