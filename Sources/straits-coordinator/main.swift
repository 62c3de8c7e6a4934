// straits-coordinator: the control plane of a Straits cluster. `--help` lists the flags.
import Foundation
import Runtime

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("-h") || arguments.contains("--help") {
    print(CoordinatorOptions.help)
    exit(0)
}
do {
    let coordinator = try Coordinator(options: try CoordinatorOptions(arguments: arguments))
    exit(coordinator.runJob())
} catch {
    FileHandle.standardError.write(Data("straits-coordinator: \(error)\n".utf8))
    exit(2)
}
