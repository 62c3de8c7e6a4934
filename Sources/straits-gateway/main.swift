// straits-gateway: a region's emulated WAN links. `--help` lists the flags.
import Foundation
import Runtime

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("-h") || arguments.contains("--help") {
    print(GatewayOptions.help)
    exit(0)
}
do {
    exit(try Gateway(options: try GatewayOptions(arguments: arguments)).run())
} catch {
    FileHandle.standardError.write(Data("straits-gateway: \(error)\n".utf8))
    exit(2)
}
