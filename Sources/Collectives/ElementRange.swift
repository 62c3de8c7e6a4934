/// A run of float32 elements in a rank's buffer: `count` elements from `offset`.
public struct ElementRange: Hashable, Sendable, CustomStringConvertible {
    public var offset: Int
    public var count: Int

    public init(offset: Int, count: Int) {
        precondition(offset >= 0 && count >= 0, "range \(offset)+\(count)")
        self.offset = offset
        self.count = count
    }

    public var end: Int { offset + count }

    public func overlaps(_ other: ElementRange) -> Bool {
        count > 0 && other.count > 0 && offset < other.end && other.offset < end
    }

    /// Splits `self` into `parts` ranges whose sizes differ by at most one element.
    public func split(into parts: Int) -> [ElementRange] {
        precondition(parts >= 1, "split into \(parts)")
        return (0..<parts).map { part in
            let low = offset + part * count / parts
            let high = offset + (part + 1) * count / parts
            return ElementRange(offset: low, count: high - low)
        }
    }

    /// Splits `self` into consecutive chunks of at most `chunkElements` (at least one chunk).
    public func chunked(by chunkElements: Int) -> [ElementRange] {
        precondition(chunkElements >= 1, "chunk of \(chunkElements)")
        let chunks = max(1, (count + chunkElements - 1) / chunkElements)
        return split(into: chunks)
    }

    public var description: String { "[\(offset), \(end))" }
}
