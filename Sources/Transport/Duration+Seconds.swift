extension Duration {
    /// This duration in seconds, as the records and the control messages carry times.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
