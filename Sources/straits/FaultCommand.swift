import ArgumentParser
import Foundation
import Logging
import Services
import StraitsWire
import Transport
import ZeroMQ

struct FaultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fault",
        abstract:
            "Make a running cluster misbehave: a WAN link dark, degraded or flapping for a while, a partition, or a process killed.",
        discussion: """
            FAULT is written as an entry of a job's faults: list (docs/emulation.md, docs/elastic.md), without at it \
            begins at once: '{ link: [us-east, eu-west], for: 3s, down: true }', \
            '{ link: [a, b], for: 10s, bandwidth: 10Mbps, latency: 120ms }', \
            '{ link: [a, b], directed: true, at: 2s, for: 6s, flap: 500ms }', \
            '{ partition: [[us-east], [eu-west, ap-northeast]], for: 5s }', \
            '{ kill: worker, region: eu-west, host: 1 }', '{ kill: gateway, region: us-east }'. The coordinator \
            schedules it, its gateways carry out link faults and the processes named end themselves, and \
            events.jsonl records it (fault_injected, link_fault, kill_fault). With --keys, only a holder of the \
            cluster's keys can reach the coordinator.
            """)

    @Option(
        help: ArgumentHelp("The coordinator's control endpoint (RUN_DIR/coordinator.endpoint).", valueName: "endpoint"))
    var coordinator: String

    @OptionGroup var security: SecurityOptions

    @Argument(help: ArgumentHelp("The fault, as a faults: entry.", valueName: "fault"))
    var fault: String

    func run() throws {
        try security.apply(bindsOffLoopback: false, log: Logger(label: "straits fault"))
        var socket = try ZMQSocket(.dealer, linger: .milliseconds(500))
        try LinkSecurity.client(&socket)
        try socket.connect(coordinator)
        try ControlLink.send(.inject(.init(fault: fault)), on: &socket)
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            guard let frames = try ControlLink.receiveFrames(on: &socket, timeout: .milliseconds(200)),
                case .inject(let answer)? = try? ControlMessage(frames: frames)
            else { continue }
            guard answer.ok == true else {
                throw ValidationError("the coordinator refused the fault: \(answer.reason ?? "no reason given")")
            }
            print(answer.reason ?? "scheduled")
            return
        }
        throw ValidationError("no answer from the coordinator at \(coordinator) within 5 s")
    }
}
