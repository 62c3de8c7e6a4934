// straits-worker: one host of a Straits cluster. `--help` lists the flags.
import ArgumentParser
import Services

@main
struct StraitsWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "straits-worker", abstract: "One host of a Straits cluster.", discussion: WorkerOptions.discussion)

    @OptionGroup var log: LogOptions
    @OptionGroup var options: WorkerOptions

    func run() throws {
        log.bootstrap(stream: .standardError)
        throw ExitCode(ClusterWorker(options: options).run())
    }
}
