extension CollectiveSchedule {
    /// Sends of at most this many bytes are copied instead of sent zero-copy.
    /// The transport (`ScheduleExecutor`) and the model (`CollectiveSimulator`) both follow it.
    public static let copyThresholdBytes = 64 << 10
}
