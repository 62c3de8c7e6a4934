/// Page-aligned memory on one NUMA node, freed when the buffer is.
///
/// Allocated with `numa_alloc_onnode`, which binds the pages to the node (they are placed there
/// when first touched). Under a fake topology the memory comes from the real node behind the
/// fake one (`NUMATopology.physicalNode(for:)`), and `node` still names the fake node asked for.
///
/// A class, because device threads of a worker share buffers (each reduces the slice it owns,
/// reading its peers'), and a zero-copy send keeps its buffer alive until libzmq lets go.
/// Unchecked Sendable: the buffer hands out raw memory; the collectives that share it order
/// their reads and writes with their own barriers.
public final class NUMABuffer: @unchecked Sendable {
    private let memory: UnsafeMutableRawPointer
    /// The size in bytes.
    public let byteCount: Int
    /// The node the buffer was asked for.
    public let node: Int
    /// The real node its pages are bound to.
    public let physicalNode: Int

    /// Allocates `byteCount` bytes on `node` of `topology`, zero-filled.
    public init(byteCount: Int, node: Int, topology: NUMATopology) throws(NUMAError) {
        precondition(byteCount >= 0, "buffer size \(byteCount)")
        let physical = try topology.physicalNode(for: node)
        memory = try NUMASystem.allocate(byteCount: byteCount, node: physical)
        self.byteCount = byteCount
        self.node = node
        self.physicalNode = physical
    }

    deinit {
        NUMASystem.free(memory, byteCount: byteCount)
    }

    /// Lends the bytes to `body`.
    public func withUnsafeMutableBytes<Result, Failure: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(UnsafeMutableRawBufferPointer(start: memory, count: byteCount))
    }

    /// Lends the bytes to `body` as float32 elements (the memory is page-aligned).
    public func withUnsafeMutableFloats<Result, Failure: Error>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let floats = memory.bindMemory(to: Float.self, capacity: byteCount / MemoryLayout<Float>.stride)
        return try body(UnsafeMutableBufferPointer(start: floats, count: byteCount / MemoryLayout<Float>.stride))
    }

    /// The real node holding the page at `offset` (which must have been touched), as the kernel
    /// reports it; nil where libnuma can't tell.
    public func residentNode(ofByte offset: Int = 0) -> Int? {
        precondition(offset >= 0 && offset < max(byteCount, 1), "offset \(offset) of a \(byteCount)-byte buffer")
        return NUMASystem.nodeOfPage(at: memory + offset)
    }
}
