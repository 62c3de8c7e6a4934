/// What the faults of a run cost it: each fault's course (when it began, when its loss was
/// detected and recovered from), and goodput, the useful samples per second against the rate
/// of the run's own undisturbed steps. No I/O and no clock: the coordinator hands it each event
/// with the time (monotonic nanoseconds).
///
/// A step is undisturbed when it ran once, over every host of the topology, with no fault in
/// progress and none beginning, ending or being recovered from while it ran. Their samples over
/// their wall time are the fault-free rate; every finished step's samples are useful, and a
/// given-up attempt's time is lost.
public struct FaultLedger: Sendable {
    /// One fault's course.
    public struct Course: Sendable, Equatable {
        /// `link` or `kill`, and its place in the job's list of that kind (or the operator's).
        public var kind: String
        public var fault: Int
        /// What it hit: `us-east → eu-west`, `worker eu-west/1`, `gateway us-east`.
        public var target: String
        public var beganNs: Int64
        public var endedNs: Int64?
        /// Kills: when the coordinator found each member it hit gone, and when the job had
        /// recovered (a step done over the survivors or through the restarted gateway).
        public var detectedNs: Int64?
        public var recoveredNs: Int64?
    }

    public private(set) var courses: [Course] = []
    /// Link faults in progress, by fault.
    private var activeLinks = Set<Int>()
    /// Kills whose members are not yet found gone, by member label: the course's place.
    private var awaitingDetection: [String: Int] = [:]
    /// Losses not yet recovered from: the course's place (nil for a death no fault caused).
    private var awaitingRecovery: [String: Int] = [:]
    /// Something changed since the step in flight began.
    private var disturbed = false
    public private(set) var firstStepNs: Int64?
    public private(set) var lastStepNs: Int64?
    public private(set) var usefulSamples = 0
    public private(set) var undisturbedSamples = 0
    public private(set) var undisturbedSeconds = 0.0
    public private(set) var stepsRetried = 0
    public private(set) var secondsLost = 0.0

    public init() {}

    /// A link fault's change: in progress from a change that makes the link dark or degraded
    /// until one that brings it back (a flap's last `up` ends it).
    public mutating func linkChange(fault: Int, target: String, active: Bool, now: Int64) {
        disturbed = true
        let index =
            courses.firstIndex { $0.kind == "link" && $0.fault == fault }
            ?? {
                courses.append(Course(kind: "link", fault: fault, target: target, beganNs: now))
                return courses.count - 1
            }()
        if active {
            activeLinks.insert(fault)
        } else {
            courses[index].endedNs = now
            activeLinks.remove(fault)
        }
    }

    /// A kill was sent to `members` (their labels).
    public mutating func kill(fault: Int, target: String, members: [String], now: Int64) {
        disturbed = true
        courses.append(Course(kind: "kill", fault: fault, target: target, beganNs: now))
        for member in members { awaitingDetection[member] = courses.count - 1 }
    }

    /// The coordinator found `member` gone (killed by a fault or not).
    public mutating func lost(_ member: String, now: Int64) {
        disturbed = true
        let course = awaitingDetection.removeValue(forKey: member)
        if let course, courses[course].detectedNs == nil { courses[course].detectedNs = now }
        awaitingRecovery[member] = course ?? -1
    }

    /// The job recovered from losing `member`.
    public mutating func recovered(_ member: String, now: Int64) {
        disturbed = true
        guard let course = awaitingRecovery.removeValue(forKey: member), course >= 0 else { return }
        courses[course].recoveredNs = max(courses[course].recoveredNs ?? now, now)
    }

    /// A member joined the running job (a new epoch comes).
    public mutating func joined() { disturbed = true }

    /// An attempt at a step begins.
    public mutating func attemptBegins(now: Int64) {
        if firstStepNs == nil { firstStepNs = now }
        disturbed = false
    }

    /// An attempt was given up after `seconds`.
    public mutating func attemptGivenUp(seconds: Double) {
        stepsRetried += 1
        secondsLost += seconds
        disturbed = true
    }

    /// A step finished at `now` after `seconds` (its last attempt), with `samples` samples over
    /// `hosts` of the topology's `fullHosts`; `retried` if an attempt of it was given up.
    public mutating func stepDone(samples: Int, seconds: Double, hosts: Int, fullHosts: Int, retried: Bool, now: Int64)
    {
        lastStepNs = now
        usefulSamples += samples
        if !disturbed, !retried, hosts == fullHosts, activeLinks.isEmpty, awaitingRecovery.isEmpty {
            undisturbedSamples += samples
            undisturbedSeconds += seconds
        }
    }

    /// Samples per second of the undisturbed steps (nil: there were none).
    public var faultFreeRate: Double? {
        undisturbedSeconds > 0 ? Double(undisturbedSamples) / undisturbedSeconds : nil
    }

    /// Useful samples per second from the first step's start to the last one's end.
    public var goodputRate: Double? {
        guard let first = firstStepNs, let last = lastStepNs, last > first else { return nil }
        return Double(usefulSamples) / (Double(last - first) / 1e9)
    }
}
