import StraitsWire

/// A worker's commands from the coordinator, carried out by its devices one at a time and in
/// the order they came: a command waits until the devices have finished the one before. What a
/// finished command reports goes back to the coordinator as the queue directs.
public struct WorkerCommandQueue: Sendable {
    public enum Command: Equatable, Sendable {
        /// Connect to the plan's peers (and set the plan up).
        case connect(ControlMessage.Plan)
        /// Measure a link to another worker.
        case probe(ControlMessage.Probe)
        /// Run a step.
        case step(ControlMessage.Step)
    }

    /// What a device reported for the command it finished.
    public enum DeviceOutcome: Equatable, Sendable {
        case done
        case probed(ControlMessage.LinkParameters)
        case stepped(ControlMessage.DeviceStep)
        /// A new membership epoch came while the device ran the command: it gave it up.
        case superseded
    }

    /// What the shell does next.
    public enum Directive: Equatable, Sendable {
        /// Hand the command to the devices.
        case post(Command)
        /// Report a probe's result (the lead side of a probe only).
        case sendProbed(ControlMessage.Probed)
        /// Report a finished step: its number, the bytes it all-reduced, the chunk the
        /// coordinator chose and each device's result.
        case sendStepDone(ControlMessage.Step, [ControlMessage.DeviceStep])
    }

    private var waiting: [Command] = []
    /// The command the devices are carrying out, if any.
    public private(set) var running: Command?
    /// Over every step so far, summed over devices: compute and communication seconds.
    public private(set) var computeS = 0.0
    public private(set) var commS = 0.0
    public private(set) var stepsDone = 0

    public init() {}

    /// Commands not yet handed to the devices.
    public var queued: Int { waiting.count }

    /// A command came: posted at once if the devices are idle, else queued.
    public mutating func onCommand(_ command: Command) -> [Directive] {
        waiting.append(command)
        return postNext()
    }

    /// The devices finished the running command; `outcomes` by device.
    public mutating func onFinished(_ outcomes: [DeviceOutcome]) -> [Directive] {
        guard let finished = running else { return [] }
        running = nil
        var directives: [Directive] = []
        switch finished {
        case .probe(let probe):
            if probe.lead, case .probed(let link)? = outcomes.first {
                directives.append(.sendProbed(.init(peerWorker: probe.peerWorker, link: link)))
            }
        case .step where outcomes.contains(.superseded):
            break  // given up: the coordinator sends the step again in the new epoch
        case .step(let step):
            var devices: [ControlMessage.DeviceStep] = []
            for case .stepped(let result) in outcomes {
                devices.append(result)
                computeS += result.computeS
                commS += result.commS
            }
            stepsDone += 1
            directives.append(.sendStepDone(step, devices))
        case .connect:
            break
        }
        return directives + postNext()
    }

    /// A new membership epoch: commands not yet begun are of the old one, and go. (The running
    /// command is given up by the devices and finishes as `superseded`.)
    public mutating func supersede() {
        waiting.removeAll()
    }

    private mutating func postNext() -> [Directive] {
        guard running == nil, !waiting.isEmpty else { return [] }
        let command = waiting.removeFirst()
        running = command
        return [.post(command)]
    }
}
