import ArgumentParser
import Config

struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology", abstract: "Check a topology file and describe it.")

    @Argument(help: ArgumentHelp("The topology YAML.", valueName: "file")) var file: String
    @Flag(help: "List \"region host devices\", one line per worker process (for scripts).") var hosts = false
    @Flag(help: "List the region names, one per line (for scripts).") var regions = false

    func run() throws {
        let topology = try ClusterTopology.load(path: file)
        if regions {
            for region in topology.regions { print(region.name) }
        } else if hosts {
            for region in topology.regions {
                for host in 0..<region.hosts { print("\(region.name) \(host) \(region.devicesPerHost)") }
            }
        } else {
            print(
                "topology \(topology.name): \(topology.regions.count) regions, \(topology.hostCount) hosts, \(topology.deviceCount) devices"
            )
            for region in topology.regions {
                print("  region \(region.name): \(region.hosts) hosts × \(region.devicesPerHost) devices")
            }
            for link in topology.links {
                let rate = Units.formatRate(bitsPerSecond: link.bitsPerSecond)
                let latency = Units.formatDuration(seconds: link.latencySeconds)
                let jitter = Units.formatDuration(seconds: link.jitterSeconds)
                let framing = link.framing == .tcp ? " (line rate: TCP/IP headers counted)" : " (payload only)"
                print("  link \(link.from) → \(link.to): \(rate), \(latency) ± \(jitter)\(framing)")
            }
            print("  lan: " + (topology.lanBitsPerSecond.map { Units.formatRate(bitsPerSecond: $0) } ?? "unlimited"))
        }
    }
}
