/// Pinning the calling thread to CPUs, and asking where it runs.
public enum ThreadAffinity {
    /// Restricts the calling thread to `cpus`.
    public static func pin(to cpus: [Int]) throws(NUMAError) {
        try NUMASystem.pinCurrentThread(to: cpus)
    }

    /// The CPUs the calling thread may run on.
    public static func current() throws(NUMAError) -> [Int] {
        try NUMASystem.currentAffinity()
    }

    /// The CPU the calling thread is running on at this moment.
    public static var currentCPU: Int? { NUMASystem.currentCPU() }
}

extension NUMATopology {
    /// Pins the calling thread to the CPUs of `node`.
    public func pinCurrentThread(toNode node: Int) throws(NUMAError) {
        try ThreadAffinity.pin(to: self.node(node).cpus)
    }

    /// Pins the calling thread where a placement says its device runs.
    public func pinCurrentThread(to placement: DevicePlacement) throws(NUMAError) {
        try ThreadAffinity.pin(to: placement.cpus)
    }
}
