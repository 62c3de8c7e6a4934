extension Array where Element == Double {
    /// The middle value; with an even count, the mean of the two middle ones (so that two
    /// iterations give their mean, not the slower). 0 when empty.
    public var median: Double {
        guard !isEmpty else { return 0 }
        let sorted = self.sorted()
        let middle = count / 2
        return count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
