/// A replica's whole state as one flat float32 vector: what a step in flight rolls back to
/// when a membership change makes the cluster retry it, and what a healthy rank sends a rank
/// that joins a running job. Every value is copied bit for bit (counters as their bit
/// patterns), so a replica loaded from it is identical to the one saved.
///
/// Layout: parameters; θ_global (schedules other than ddp); the inner optimiser's vectors
/// (momentum or AdamW's first and second moments) and its step count; the outer optimiser's
/// velocity (schedules other than ddp).
extension Replica {
    /// Floats `save` writes.
    public var stateCount: Int {
        let count = model.parameterCount
        return count * (global == nil ? 1 : 2) + inner.stateCount + (outer?.stateCount ?? 0)
    }

    /// Writes the state into `state` (`stateCount` floats).
    public func save(into state: UnsafeMutablePointer<Float>) {
        let count = model.parameterCount
        var at = state
        at.update(from: parameters, count: count)
        at += count
        if let global {
            at.update(from: global, count: count)
            at += count
        }
        inner.save(into: at)
        at += inner.stateCount
        outer?.save(into: at)
    }

    /// Reads the state `save` wrote.
    public func load(from state: UnsafePointer<Float>) {
        let count = model.parameterCount
        var at = state
        parameters.update(from: at, count: count)
        at += count
        if let global {
            global.update(from: at, count: count)
            at += count
        }
        inner.load(from: at)
        at += inner.stateCount
        outer?.load(from: at)
    }
}

extension InnerOptimizer {
    /// Floats of state: its vectors and the step count.
    public var stateCount: Int {
        (first == nil ? 0 : count) + (second == nil ? 0 : count) + 1
    }

    func save(into state: UnsafeMutablePointer<Float>) {
        var at = state
        for vector in [first, second].compactMap({ $0 }) {
            at.update(from: vector, count: count)
            at += count
        }
        at.pointee = Float(bitPattern: UInt32(truncatingIfNeeded: steps))
    }

    func load(from state: UnsafePointer<Float>) {
        var at = state
        for vector in [first, second].compactMap({ $0 }) {
            vector.update(from: at, count: count)
            at += count
        }
        steps = Int(at.pointee.bitPattern)
    }
}

extension OuterOptimizer {
    /// Floats of state: the velocity.
    public var stateCount: Int { count }

    func save(into state: UnsafeMutablePointer<Float>) {
        state.update(from: velocity, count: count)
    }

    func load(from state: UnsafePointer<Float>) {
        velocity.update(from: state, count: count)
    }
}
