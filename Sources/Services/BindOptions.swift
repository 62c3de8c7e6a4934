import ArgumentParser
import Transport

/// Where a worker's or gateway's data sockets bind and how other hosts reach them: the flags
/// both take.
public struct BindOptions: ParsableArguments, Sendable {
    /// The address the data sockets bind on (this host's address as the other processes see it).
    @Option(
        name: .customLong("bind-address"), help: ArgumentHelp("Address the data sockets bind on.", valueName: "addr"))
    public var address = "127.0.0.1"

    /// The address the other hosts reach this one at, where it differs from the bind address.
    @Option(
        name: .customLong("advertise-address"),
        help: ArgumentHelp(
            "Address the other hosts reach the data sockets at (default: --bind-address).",
            discussion:
                "Needed when --bind-address is a wildcard (0.0.0.0) or not reachable as it is, e.g. behind NAT.",
            valueName: "addr"))
    public var advertiseAddress: String?

    /// TCP, or Unix-domain sockets where the whole cluster runs on one machine.
    @Option(
        help: ArgumentHelp(
            "How the data sockets are reached.",
            discussion:
                "tcp on --bind-address, or ipc: Unix-domain sockets in the temporary directory, for a cluster that runs on one machine."
        ))
    public var transport = DataTransport.tcp

    public init() {}

    public func validate() throws {
        try FlagCheck.advertise(bind: address, advertise: advertiseAddress, "--bind-address")
    }

    /// Whether the data sockets bind where other hosts can reach them.
    public var offLoopback: Bool { transport == .tcp && !DataTransport.isLoopback(address: address) }
}
