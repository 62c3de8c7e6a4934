// straits-coordinator: the control plane of a Straits cluster. `--help` lists the flags.
import ArgumentParser
import Foundation
import Services

@main
struct StraitsCoordinator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "straits-coordinator", abstract: "The control plane of a Straits cluster.",
        discussion: CoordinatorOptions.discussion)

    @OptionGroup var options: CoordinatorOptions

    func run() throws {
        let coordinator: Coordinator
        do {
            coordinator = try Coordinator(options: options)
        } catch {
            FileHandle.standardError.write(Data("straits-coordinator: \(error)\n".utf8))
            throw ExitCode(2)
        }
        throw ExitCode(coordinator.runJob())
    }
}
