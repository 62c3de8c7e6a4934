import Collectives

extension CollectiveSimulator {
    /// Below this, the model leaves the cores at least half idle: the links, not the machine
    /// that emulates them, set the pace.
    public static let headroomBusy = 0.5

    /// How much faster the model must predict a smaller chunk than the planner's for it to be
    /// taken: within that, fewer messages are the safer choice on a busy host.
    public static let chunkGain = 0.02

    /// The all-reduce of `bytes` the model predicts fastest among the planner's choice and the
    /// same with each of its smaller chunks (`ClusterPlanner.chunkCandidates`): a smaller one is
    /// taken where it is predicted at least `gain` faster and the model of it leaves the cores
    /// below `coresBusyBelow` (with no model of the cores, always). A smaller chunk pipelines a
    /// step's hops (the WAN, the LAN, the reduce) more deeply, which pays where a hop's latency
    /// is a large share of a chunk's time on the link, and costs a message each, which the model
    /// charges the cores; where the cores are busier, how the scheduler shares them decides more
    /// than the model can (each message wakes threads that wait for a core). Between regions
    /// whose links the model does not know (no gateways: the traffic is shaped, if at all, where
    /// the model cannot see it), it does not choose. `chunk` is nil where the planner's choice
    /// stands.
    public func modelChoice(
        _ planner: ClusterPlanner, bytes: Int, gain: Double = chunkGain,
        coresBusyBelow: Double = CollectiveSimulator.headroomBusy
    )
        -> (chunk: Int?, choice: ClusterPlanner.Choice, prediction: Prediction)
    {
        let own = planner.choose(bytes: bytes)
        var best = (chunk: Int?.none, choice: own, prediction: prediction(own, bytes: bytes))
        guard links != nil || layout.regions.count < 2 else { return best }
        var bar = best.prediction.seconds * (1 - gain)
        for chunk in planner.chunkCandidates(bytes: bytes) {
            let choice = planner.choose(bytes: bytes, chunkBytes: chunk)
            let candidate = prediction(choice, bytes: bytes)
            guard candidate.seconds < bar, candidate.coresBusy.map({ $0 < coresBusyBelow }) ?? true else { continue }
            best = (chunk, choice, candidate)
            bar = candidate.seconds
        }
        return best
    }
}
