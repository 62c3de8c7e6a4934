import ArgumentParser
import Foundation
import Services

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks, in the style of nccl-tests.", subcommands: [AllReduce.self])

    struct AllReduce: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "allreduce", abstract: "All-reduce benchmark over local ranks, nccl-tests style.",
            discussion: BenchOptions.discussion)

        @OptionGroup var options: BenchOptions

        func run() throws {
            LogOptions.bootstrapDefault(stream: .standardError)
            // The rank processes are this same executable (`bench-worker`).
            let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
            let resolved =
                FileManager.default.isExecutableFile(atPath: executable)
                ? executable : (Bundle.main.executablePath ?? executable)
            throw ExitCode(try BenchLauncher(options: options, executable: resolved).run())
        }
    }
}

/// One rank process of `straits bench allreduce` (started by it; not for people).
struct BenchWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-worker", abstract: "One worker process of straits bench allreduce.", shouldDisplay: false)

    @Option(help: "The launcher's control endpoint.") var control: String
    @Option(help: "This worker's index.") var worker: Int
    @OptionGroup var options: BenchOptions

    func run() throws {
        LogOptions.bootstrapDefault(stream: .standardError)
        try BenchWorker(options: options, worker: worker, controlEndpoint: control).run()
    }
}
