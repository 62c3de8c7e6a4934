/// A run's timeline in the Trace Event Format (trace.json: open it in Perfetto or
/// chrome://tracing): one process per worker and a track per rank, each step's compute and
/// communication as spans; and a process for the WAN links, a track per link, each fault as a
/// span from its beginning to its end.
///
/// Times are microseconds from the run's first step, as the coordinator saw it begin; a rank's
/// spans are laid end to end from there by the durations the rank measured.
public struct TraceRecorder: Sendable {
    /// The process id of the links' track group (workers are 0, 1, …).
    public static let linksProcess = 1_000_000
    /// The process id of the membership track: workers lost and joined, epochs, recoveries.
    public static let membershipProcess = 1_000_001
    /// The most events kept: a run longer than that keeps its first ones, and says so.
    public static let maximumEvents = 200_000

    private var events: [JSONValue] = []
    private var named = Set<String>()
    /// Faults in progress, by link: the span's start and what it is.
    private var open: [String: (start: Int64, name: String, link: Int, args: [(String, JSONValue)])] = [:]
    private var origin: Int64?
    public private(set) var dropped = 0

    public init() {}

    /// Microseconds from the first step to `nanoseconds` (monotonic).
    private mutating func micros(_ nanoseconds: Int64) -> Double {
        if origin == nil { origin = nanoseconds }
        return Double(nanoseconds - origin!) / 1e3
    }

    private mutating func append(_ event: JSONValue) {
        guard events.count < Self.maximumEvents else {
            dropped += 1
            return
        }
        events.append(event)
    }

    /// Names a process or a thread once (metadata events).
    private mutating func name(_ kind: String, pid: Int, tid: Int?, _ name: String) {
        let key = "\(kind) \(pid) \(tid ?? -1)"
        guard named.insert(key).inserted else { return }
        var fields: [(String, JSONValue)] = [
            ("name", .string(kind)), ("ph", "M"), ("ts", 0), ("pid", .int(pid)),
        ]
        fields.append(("tid", .int(tid ?? 0)))
        fields.append(("args", .object([("name", .string(name))])))
        append(.object(fields))
    }

    /// One rank's step, begun (as the coordinator sent it) at `start`: its parts in order, each
    /// `(name, seconds)`; parts of no time are left out.
    public mutating func step(
        _ step: Int, start: Int64, worker: Int, workerName: String, rank: Int, parts: [(String, Double)],
        args: [(String, JSONValue)] = []
    ) {
        name("process_name", pid: worker, tid: nil, workerName)
        name("thread_name", pid: worker, tid: rank, "rank \(rank)")
        var at = micros(start)
        for (part, seconds) in parts where seconds > 0 {
            let duration = seconds * 1e6
            append(
                .object([
                    ("name", .string(part)), ("cat", "step"), ("ph", "X"), ("ts", .double(at)),
                    ("dur", .double(duration)), ("pid", .int(worker)), ("tid", .int(rank)),
                    ("args", .object([("step", .int(step))] + args)),
                ]))
            at += duration
        }
    }

    /// A link's fault begins (`down` or `degraded`) or ends (`up` or `restored`) at `now`.
    public mutating func linkFault(
        from: String, to: String, link: Int, state: String, at now: Int64, args: [(String, JSONValue)] = []
    ) {
        let key = "\(from)→\(to)"
        name("process_name", pid: Self.linksProcess, tid: nil, "WAN links")
        name("thread_name", pid: Self.linksProcess, tid: link, key)
        switch state {
        case "down", "degraded":
            close(key, at: now)
            open[key] = (now, "\(key) \(state)", link, args)
        default:
            close(key, at: now)
        }
    }

    /// An instant on the membership track: a worker lost or joined, a new epoch, a recovery.
    public mutating func membership(_ what: String, at now: Int64, args: [(String, JSONValue)] = []) {
        name("process_name", pid: Self.membershipProcess, tid: nil, "membership")
        name("thread_name", pid: Self.membershipProcess, tid: 0, "membership")
        append(
            .object([
                ("name", .string(what)), ("cat", "membership"), ("ph", "i"), ("s", "p"), ("ts", .double(micros(now))),
                ("pid", .int(Self.membershipProcess)), ("tid", 0), ("args", .object(args)),
            ]))
    }

    private mutating func close(_ key: String, at now: Int64) {
        guard let fault = open.removeValue(forKey: key) else { return }
        let start = micros(fault.start)
        append(
            .object([
                ("name", .string(fault.name)), ("cat", "fault"), ("ph", "X"), ("ts", .double(start)),
                ("dur", .double(max(0, micros(now) - start))), ("pid", .int(Self.linksProcess)),
                ("tid", .int(fault.link)), ("args", .object(fault.args)),
            ]))
    }

    /// The trace as trace.json holds it, every fault still in progress closed at `now`.
    public mutating func json(closingAt now: Int64) -> JSONValue {
        for key in open.keys.sorted() { close(key, at: now) }
        var fields: [(String, JSONValue)] = [("traceEvents", .array(events)), ("displayTimeUnit", "ms")]
        if dropped > 0 { fields.append(("otherData", .object([("dropped_events", .int(dropped))]))) }
        return .object(fields)
    }
}
