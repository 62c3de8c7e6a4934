// straits: the command-line front door. `straits bench allreduce --help` lists the flags.
import Foundation
import Runtime

let arguments = Array(CommandLine.arguments.dropFirst())
let usage = """
    USAGE: straits <command> [options]

    COMMANDS:
      bench allreduce    all-reduce benchmark over local ranks, nccl-tests style (--help for flags)

    """

func fail(_ message: String, status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("straits: \(message)\n".utf8))
    exit(status)
}

do {
    switch (arguments.first, arguments.dropFirst().first) {
    case ("bench", "allreduce"):
        let rest = Array(arguments.dropFirst(2))
        if rest.contains("-h") || rest.contains("--help") {
            print(BenchOptions.help)
            exit(0)
        }
        let options = try BenchOptions(arguments: rest)
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        let resolved = FileManager.default.isExecutableFile(atPath: executable)
            ? executable : (Bundle.main.executablePath ?? executable)
        exit(try BenchLauncher(options: options, executable: resolved).run())
    case ("bench-worker", _):
        // Internal: one worker process of `straits bench allreduce`.
        var rest = Array(arguments.dropFirst())
        func take(_ flag: String) throws -> String {
            guard let index = rest.firstIndex(of: flag), index + 1 < rest.count else { throw RuntimeError("bench-worker: \(flag) is required") }
            let value = rest[index + 1]
            rest.removeSubrange(index...(index + 1))
            return value
        }
        let control = try take("--control")
        guard let worker = Int(try take("--worker")) else { throw RuntimeError("bench-worker: --worker expects a number") }
        let options = try BenchOptions(arguments: rest)
        try BenchWorker(options: options, worker: worker, controlEndpoint: control).run()
    case ("-h", _), ("--help", _), (nil, _):
        print(usage)
    default:
        fail("unknown command \(arguments.joined(separator: " "))\n\(usage)")
    }
} catch {
    fail("\(error)", status: 1)
}
