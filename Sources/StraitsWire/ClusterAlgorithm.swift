/// How a cluster all-reduces (a job's `algo`, and the plan's): `hier` (shared memory inside each
/// worker, a ring among the region's hosts, an all-reduce among the regions on each owned part:
/// where regions differ in size, on each piece of the parts their segments cut), `ring` (one
/// flat ring over every rank), or `auto` (hierarchical where every region has the same number of
/// hosts, else the planner's flat choice).
public enum ClusterAlgorithm: String, Codable, Sendable, CaseIterable {
    case auto, ring, hier
}

extension ControlMessage {
    /// Where a training step's gradients are averaged: across every rank, or inside each region.
    public enum SyncScope: String, Codable, Sendable, CaseIterable {
        case all, region
    }
}
