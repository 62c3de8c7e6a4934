/// The kernel's CPU-list notation: `0-3,8,10-11`.
public enum CPUList {
    /// Parses a CPU list such as `0-3,8`; nil if it is malformed or empty.
    public static func parse(_ text: Substring) -> [Int]? {
        var cpus: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count),
                let low = Int(bounds[0].filter { $0 != " " }), low >= 0,
                let high = Int(bounds[bounds.count - 1].filter { $0 != " " }), high >= low
            else { return nil }
            cpus.append(contentsOf: low...high)
        }
        return cpus.isEmpty ? nil : cpus
    }

    /// Formats CPUs in the kernel's notation, folding runs into ranges.
    public static func format(_ cpus: [Int]) -> String {
        var parts: [String] = []
        var index = 0
        let sorted = cpus.sorted()
        while index < sorted.count {
            var end = index
            while end + 1 < sorted.count && sorted[end + 1] == sorted[end] + 1 { end += 1 }
            parts.append(end == index ? "\(sorted[index])" : "\(sorted[index])-\(sorted[end])")
            index = end + 1
        }
        return parts.joined(separator: ",")
    }
}
