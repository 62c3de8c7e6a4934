/// A min-heap of timed events; ties keep insertion order.
public struct EventQueue<Element> {
    private var heap: [(time: Int64, order: Int, element: Element)] = []
    private var counter = 0

    public var peekTime: Int64? { heap.first?.time }

    public mutating func push(_ time: Int64, _ element: Element) {
        heap.append((time, counter, element))
        counter += 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    public mutating func pop() -> (Int64, Element)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && Self.less(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && Self.less(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.time, top.element)
    }

    private static func less(
        _ a: (time: Int64, order: Int, element: Element), _ b: (time: Int64, order: Int, element: Element)
    ) -> Bool {
        a.time < b.time || (a.time == b.time && a.order < b.order)
    }
}
