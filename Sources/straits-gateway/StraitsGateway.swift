// straits-gateway: a region's emulated WAN links. `--help` lists the flags.
import ArgumentParser
import Foundation
import Services

@main
struct StraitsGateway: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "straits-gateway", abstract: "A region's gateway: its emulated WAN links.",
        discussion: GatewayOptions.discussion)

    @OptionGroup var options: GatewayOptions

    func run() throws {
        let gateway: Gateway
        do {
            gateway = try Gateway(options: options)
        } catch {
            FileHandle.standardError.write(Data("straits-gateway: \(error)\n".utf8))
            throw ExitCode(2)
        }
        throw ExitCode(gateway.run())
    }
}
