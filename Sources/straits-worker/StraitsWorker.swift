// straits-worker: one host of a Straits cluster. `--help` lists the flags.
import ArgumentParser
import Services

@main
struct StraitsWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "straits-worker", abstract: "One host of a Straits cluster.", discussion: WorkerOptions.discussion)

    @OptionGroup var options: WorkerOptions

    func run() throws {
        throw ExitCode(ClusterWorker(options: options).run())
    }
}
