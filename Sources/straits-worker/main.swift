// straits-worker: one host of a Straits cluster. `--help` lists the flags.
import Foundation
import Runtime

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("-h") || arguments.contains("--help") {
    print(WorkerOptions.help)
    exit(0)
}
do {
    exit(ClusterWorker(options: try WorkerOptions(arguments: arguments)).run())
} catch {
    FileHandle.standardError.write(Data("straits-worker: \(error)\n".utf8))
    exit(2)
}
