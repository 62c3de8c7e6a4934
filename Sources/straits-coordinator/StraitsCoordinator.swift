// straits-coordinator: the control plane of a Straits cluster. `--help` lists the flags.
import ArgumentParser
import Logging
import Services

@main
struct StraitsCoordinator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "straits-coordinator", abstract: "The control plane of a Straits cluster.",
        discussion: CoordinatorOptions.discussion)

    @OptionGroup var log: LogOptions
    @OptionGroup var options: CoordinatorOptions

    func run() throws {
        log.bootstrap(stream: .standardOutput)
        let coordinator: Coordinator
        do {
            coordinator = try Coordinator(options: options)
        } catch {
            Logger(label: "straits-coordinator").error("\(error)")
            throw ExitCode(2)
        }
        throw ExitCode(coordinator.runJob())
    }
}
