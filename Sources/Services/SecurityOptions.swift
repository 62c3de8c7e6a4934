import ArgumentParser
import Logging
import Transport
import ZeroMQ

/// `--keys` and `--insecure`, which the coordinator, the workers and the gateways take: CURVE on
/// every socket with the cluster's keys, or plaintext, which off loopback must be asked for.
public struct SecurityOptions: ParsableArguments, Sendable {
    @Option(
        help: ArgumentHelp(
            "The cluster's CurveZMQ keys (straits keys DIR makes them): CURVE on every socket, admitting only the cluster's keys.",
            valueName: "dir"))
    public var keys: String?

    @Flag(
        help: ArgumentHelp(
            "Send in plaintext even off loopback, where anyone who can reach this host can join, read gradients or stop the job."
        ))
    public var insecure = false

    public init() {}

    /// Refuses plaintext on an address other hosts can reach, unless asked for.
    func check(bindsOffLoopback: Bool, what: String) throws {
        if keys != nil && insecure { throw ValidationError("--keys and --insecure contradict each other") }
        if bindsOffLoopback && keys == nil && !insecure {
            throw ValidationError(
                "\(what) is reachable from other hosts: give --keys DIR (straits keys DIR makes a cluster's keys), or --insecure for plaintext"
            )
        }
    }

    /// Turns CURVE on for this process's sockets on `contexts`, or warns of plaintext off
    /// loopback.
    public func apply(bindsOffLoopback: Bool, contexts: [ZMQContext] = [.shared], log: Logger) throws {
        if let keys {
            try LinkSecurity.enable(try ClusterKeys.load(directory: keys), contexts: contexts, label: log.label)
        } else if insecure && bindsOffLoopback {
            log.warning(
                "plaintext off loopback (--insecure): anyone who can reach this host can join, read gradients or stop the job"
            )
        }
    }

}
