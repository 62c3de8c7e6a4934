import Foundation
import Logging
import Synchronization
import ZeroMQ

/// A cluster's CurveZMQ keys (`straits keys DIR`): the key pair every binding socket presents as
/// a CURVE server (`cluster.key`), the key pair every connecting socket presents as a client
/// (`member.key`), and the client public keys a ZAP handler admits (`authorized_keys`, one Z85
/// key a line). Whoever holds the directory is of the cluster; nobody else can complete a
/// handshake with any of its sockets, read what they carry or send them anything.
public struct ClusterKeys: Sendable, Equatable {
    public var server: ZMQCurveKeyPair
    public var member: ZMQCurveKeyPair
    /// Z85 client public keys admitted (the member key's, and any added by hand).
    public var authorized: [String]

    public init(server: ZMQCurveKeyPair, member: ZMQCurveKeyPair, authorized: [String]) {
        self.server = server
        self.member = member
        self.authorized = authorized
    }

    /// Fresh keys.
    public static func generate() throws -> ClusterKeys {
        let member = try ZMQCurveKeyPair.generate()
        return ClusterKeys(server: try ZMQCurveKeyPair.generate(), member: member, authorized: [member.publicKey])
    }

    /// Writes the three files into `directory` (created, mode 0700; the files 0600).
    public func write(to directory: String) throws {
        let manager = FileManager.default
        try manager.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        func pair(_ keys: ZMQCurveKeyPair, _ what: String) -> String {
            "#   Straits \(what), CurveZMQ (zcert format). Keep it secret.\ncurve\n    public-key = \"\(keys.publicKey)\"\n    secret-key = \"\(keys.secretKey)\"\n"
        }
        for (name, text) in [
            ("cluster.key", pair(server, "cluster server key: every binding socket presents it")),
            ("member.key", pair(member, "member key: every connecting socket presents it")),
            (
                "authorized_keys",
                "# Client public keys the cluster admits, one Z85 key a line.\n" + authorized.joined(separator: "\n")
                    + "\n"
            ),
        ] {
            let path = directory + "/" + name
            guard manager.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            else {
                throw RuntimeError(.invalidArgument, "cannot write \(path)")
            }
        }
    }

    /// Reads the three files from `directory`; every mistake names the file, the line and what
    /// was expected.
    public static func load(directory: String) throws -> ClusterKeys {
        func read(_ name: String) throws -> (path: String, lines: [Substring]) {
            let path = directory + "/" + name
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            guard let size = attributes?[.size] as? Int else {
                throw RuntimeError(
                    .invalidArgument, "\(path): cannot read it (straits keys \(directory) makes the cluster's keys)")
            }
            guard size <= 1 << 20, let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw RuntimeError(
                    .invalidArgument, "\(path): not a key file (\(size) bytes; expected text under 1 MiB)")
            }
            return (path, text.split(separator: "\n", omittingEmptySubsequences: false))
        }
        func pair(_ name: String) throws -> ZMQCurveKeyPair {
            let (path, lines) = try read(name)
            var found: [String: String] = [:]
            for (index, line) in lines.enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                for field in ["public-key", "secret-key"] where trimmed.hasPrefix(field) {
                    let value = trimmed.dropFirst(field.count).trimmingCharacters(in: .whitespaces)
                    guard value.hasPrefix("="),
                        case let key = value.dropFirst().trimmingCharacters(in: .whitespaces).trimmingCharacters(
                            in: CharacterSet(charactersIn: "\"")),
                        ZMQCurveKeyPair.bytes(key) != nil
                    else {
                        throw RuntimeError(
                            .invalidArgument, "\(path):\(index + 1): \(field): expected = \"40 Z85 characters\"")
                    }
                    found[field] = key
                }
            }
            guard let publicKey = found["public-key"], let secretKey = found["secret-key"] else {
                throw RuntimeError(.invalidArgument, "\(path): expected a public-key and a secret-key line")
            }
            return ZMQCurveKeyPair(publicKey: publicKey, secretKey: secretKey)
        }
        let (path, lines) = try read("authorized_keys")
        var authorized: [String] = []
        for (index, line) in lines.enumerated() {
            let key = line.trimmingCharacters(in: .whitespaces)
            if key.isEmpty || key.hasPrefix("#") { continue }
            guard ZMQCurveKeyPair.bytes(key) != nil else {
                throw RuntimeError(.invalidArgument, "\(path):\(index + 1): expected a Z85 public key (40 characters)")
            }
            authorized.append(key)
        }
        guard !authorized.isEmpty else {
            throw RuntimeError(.invalidArgument, "\(path): no key; the cluster would admit nobody")
        }
        return ClusterKeys(server: try pair("cluster.key"), member: try pair("member.key"), authorized: authorized)
    }
}

/// Whether this process's sockets use CURVE, and with which keys: set once at start-up
/// (`enable`), then every socket the process makes is secured as a server (it binds) or a
/// client (it connects).
public enum LinkSecurity {
    private static let keys = Mutex<ClusterKeys?>(nil)
    private static let authenticators = Mutex<[ZMQAuthenticator]>([])

    /// Turns CURVE on for every socket made from now on, with a ZAP handler on `context` that
    /// admits only the cluster's keys and logs refusals (the first, then at most one line per
    /// 10 s with the count since).
    public static func enable(_ clusterKeys: ClusterKeys, contexts: [ZMQContext] = [.shared], label: String) throws {
        keys.withLock { $0 = clusterKeys }
        let allowed = Set(clusterKeys.authorized.compactMap(ZMQCurveKeyPair.bytes))
        let limiter = RefusalLog(label: label)
        for context in contexts {
            let authenticator = try ZMQAuthenticator(context: context, allowed: allowed) { address, key in
                limiter.refused(address: address, key: key)
            }
            authenticators.withLock { $0.append(authenticator) }
        }
    }

    /// Whether CURVE is on.
    public static var isEnabled: Bool { keys.withLock { $0 != nil } }

    /// Makes a socket that binds a CURVE server, if CURVE is on. Before `bind`.
    public static func server(_ socket: inout ZMQSocket) throws {
        guard let keys = keys.withLock({ $0 }) else { return }
        try socket.setCurveServer(secretKey: keys.server.secretKey)
    }

    /// Makes a socket that connects a CURVE client of the cluster, if CURVE is on. Before `connect`.
    public static func client(_ socket: inout ZMQSocket) throws {
        guard let keys = keys.withLock({ $0 }) else { return }
        try socket.setCurveClient(
            serverKey: keys.server.publicKey, publicKey: keys.member.publicKey, secretKey: keys.member.secretKey)
    }
}

/// Refused handshakes, logged at a bounded rate: the first at once, then one line per window
/// with how many came since, so that a peer knocking in a loop cannot fill the log.
final class RefusalLog: Sendable {
    private let state = Mutex<(windowStart: ContinuousClock.Instant?, since: Int, total: Int)>((nil, 0, 0))
    private let label: String
    static let window = Duration.seconds(10)

    init(label: String) { self.label = label }

    func refused(address: String, key: String) {
        let line: String? = state.withLock { state in
            state.total += 1
            let now = ContinuousClock.now
            if let start = state.windowStart, now - start < Self.window {
                state.since += 1
                return nil
            }
            let since = state.since
            state.windowStart = now
            state.since = 0
            return
                "refused a CURVE handshake from \(address.prefix(64)) (key \(key.prefix(64)): not a key of this cluster); \(state.total) refused so far"
                + (since > 0 ? ", \(since) in the last \(Self.window.components.seconds) s not logged" : "")
        }
        if let line { Logger(label: label).warning(Logger.Message(stringLiteral: line)) }
    }
}
