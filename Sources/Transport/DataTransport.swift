import Foundation

/// How a cluster process's data sockets are reached: TCP on an address, or, where every
/// process of the cluster shares one machine, Unix-domain sockets (ZeroMQ `ipc`), which cost
/// the cores less per byte and per message than loopback TCP.
public enum DataTransport: String, Sendable, CaseIterable {
    case tcp, ipc

    /// The endpoint to bind for this process's socket `name`: a TCP port on `address` chosen by
    /// the kernel, or a socket file in the temporary directory named after the process.
    public func endpoint(address: String, name: String) -> String {
        switch self {
        case .tcp: "tcp://\(address):*"
        case .ipc: "ipc://\(NSTemporaryDirectory())\(Self.socketFilePrefix(of: getpid()))\(name).ipc"
        }
    }

    /// The transport an endpoint this type made is reached by (nil for another scheme, such as inproc).
    public init?(endpoint: String) {
        self.init(rawValue: String(endpoint.prefix { $0 != ":" }))
    }

    /// The endpoint peers reach a bound endpoint at: a TCP endpoint bound on `bound`'s address
    /// (which may be a wildcard such as 0.0.0.0) with its host replaced by `address`; any other
    /// endpoint, or a nil address, unchanged.
    public static func advertised(_ bound: String, address: String?) -> String {
        guard let address, let bound = host(ofTCP: bound) else { return bound }
        let host = address.contains(":") && !address.hasPrefix("[") ? "[\(address)]" : address
        return "tcp://" + host + bound.rest
    }

    /// The host of a TCP endpoint (`tcp://host:port`, the host bracketed for IPv6) and what
    /// follows it (`:port`); nil for another scheme.
    public static func host(ofTCP endpoint: String) -> (host: String, rest: Substring)? {
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":"),
            colon > endpoint.index(endpoint.startIndex, offsetBy: 5)
        else { return nil }
        return (String(endpoint[endpoint.index(endpoint.startIndex, offsetBy: 6)..<colon]), endpoint[colon...])
    }

    /// Whether an address is this machine's loopback (127.x, localhost, ::1).
    public static func isLoopback(address: String) -> Bool {
        address.hasPrefix("127.") || ["localhost", "::1", "[::1]"].contains(address)
    }

    /// Whether an endpoint is reached on this machine only: ipc, inproc, or TCP on a loopback
    /// address.
    public static func isLocal(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        return host(ofTCP: endpoint).map { isLoopback(address: $0.host) } ?? false
    }

    /// Whether an address binds every interface (0.0.0.0, ::, *), so that it cannot be told to
    /// peers as it is.
    public static func isWildcard(_ address: String) -> Bool {
        ["0.0.0.0", "::", "[::]", "*", ""].contains(address)
    }

    /// What the names of process `pid`'s socket files begin with.
    public static func socketFilePrefix(of pid: pid_t) -> String { "straits-\(pid)-" }

    /// Removes the socket files a process left behind (one stopped by a signal does not remove
    /// its own).
    public static func removeSocketFiles(ofProcess pid: pid_t) {
        let directory = NSTemporaryDirectory()
        let prefix = socketFilePrefix(of: pid)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(".ipc") {
            unlink((directory as NSString).appendingPathComponent(name))
        }
    }

    /// Removes the socket file behind an `ipc` endpoint (a bound socket goes on working; nothing
    /// new can connect). Other endpoints have nothing to remove.
    public static func removeSocketFile(of endpoint: String) {
        guard endpoint.hasPrefix("ipc://") else { return }
        unlink(String(endpoint.dropFirst("ipc://".count)))
    }
}
