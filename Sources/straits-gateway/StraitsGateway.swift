// straits-gateway: a region's emulated WAN links. `--help` lists the flags.
import ArgumentParser
import Logging
import Services

@main
struct StraitsGateway: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "straits-gateway", abstract: "A region's gateway: its emulated WAN links.",
        discussion: GatewayOptions.discussion)

    @OptionGroup var log: LogOptions
    @OptionGroup var options: GatewayOptions

    func run() throws {
        log.bootstrap(stream: .standardError)
        let gateway: Gateway
        do {
            gateway = try Gateway(options: options)
        } catch {
            Logger(label: "straits-gateway").error("\(error)")
            throw ExitCode(2)
        }
        throw ExitCode(gateway.run())
    }
}
