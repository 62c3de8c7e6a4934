/// A replica's whole state as one flat float32 vector: what a step in flight rolls back to
/// when a membership change makes the cluster retry it, and what a healthy rank sends a rank
/// that joins a running job. Every value is copied bit for bit (counters as their bit
/// patterns), so a replica loaded from it is identical to the one saved.
///
/// Layout: parameters; θ_global (schedules other than ddp); the inner optimiser's vectors
/// (momentum or AdamW's first and second moments); the outer optimiser's velocity (schedules
/// other than ddp); the inner optimiser's step count.
extension Replica {
    /// Floats `save` writes.
    public var stateCount: Int { vectors.reduce(1) { $0 + $1.1 } }

    /// Writes the state into `state` (`stateCount` floats).
    public func save(into state: UnsafeMutablePointer<Float>) {
        var at = state
        for (vector, count) in vectors {
            at.update(from: vector, count: count)
            at += count
        }
        at.pointee = Float(bitPattern: UInt32(truncatingIfNeeded: inner.steps))
    }

    /// Reads the state `save` wrote.
    public func load(from state: UnsafePointer<Float>) {
        var at = state
        for (vector, count) in vectors {
            vector.update(from: at, count: count)
            at += count
        }
        inner.steps = Int(at.pointee.bitPattern)
    }

    /// The state's vectors in order, each with its length; the inner step count follows them.
    private var vectors: [(UnsafeMutablePointer<Float>, Int)] {
        let count = model.parameterCount
        let optimiser = [inner.first, inner.second, outer?.velocity].compactMap { $0 }
        return ([parameters, global].compactMap { $0 } + optimiser).map { ($0, count) }
    }
}
