import ArgumentParser
import Foundation
import Services

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "WAN bandwidth × latency × algorithm through local clusters, measured beside the model.",
        discussion: SweepOptions.discussion)

    @OptionGroup var options: SweepOptions

    func run() throws {
        LogOptions.bootstrapDefault(stream: .standardError)
        // The cluster's executables sit beside this one.
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        throw ExitCode(try Sweep(options: options, binaries: executable.deletingLastPathComponent().path).run())
    }
}
