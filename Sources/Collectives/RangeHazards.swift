/// Tracks, for every element of a buffer, the last operation that wrote it and the operations
/// that read it since, as a sorted list of disjoint segments. Adding an operation costs
/// O(log s + k) for s segments and k segments overlapped, so schedules with many chunks build fast.
struct RangeHazards: Sendable {
    struct Segment: Sendable {
        var start: Int
        var end: Int
        var writer: Int?
        var readers: [Int]
    }

    /// Covers [0, Int.max) from the start, so every range is inside some segments.
    private var segments = [Segment(start: 0, end: Int.max, writer: nil, readers: [])]

    /// The operations `id` must wait for, given what it does to `range`; records it.
    mutating func record(_ id: Int, range: ElementRange, reads: Bool, writes: Bool) -> Set<Int> {
        guard range.count > 0 else { return [] }
        let low = split(at: range.offset)
        let high = split(at: range.end)
        var dependencies = Set<Int>()
        for index in low..<high {
            if let writer = segments[index].writer { dependencies.insert(writer) }
            if writes { dependencies.formUnion(segments[index].readers) }
        }
        if writes {
            segments.replaceSubrange(
                low..<high, with: [Segment(start: range.offset, end: range.end, writer: id, readers: [])])
        } else if reads {
            for index in low..<high { segments[index].readers.append(id) }
        }
        return dependencies
    }

    /// Splits the segment containing `offset` so that a segment starts there; returns its index.
    private mutating func split(at offset: Int) -> Int {
        // The last segment whose start is ≤ offset.
        var low = 0
        var high = segments.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if segments[middle].start <= offset { low = middle } else { high = middle - 1 }
        }
        if segments[low].start == offset { return low }
        var right = segments[low]
        right.start = offset
        segments[low].end = offset
        segments.insert(right, at: low + 1)
        return low + 1
    }
}
