/// A failure outside the configuration files: what kind, what was being done and where (in words
/// a person can act on), and the error underneath it, if any. Modelled on swift-nio's
/// `FileSystemError`: a closed kind to branch on, a message for people, a cause to follow.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        /// A flag, value or command given by a person.
        case invalidArgument
        /// A message from a peer (process or socket) that breaks the protocol.
        case protocolViolation
        /// A deadline passed.
        case timedOut
        /// Another process, thread or device failed, or a peer's connection is gone.
        case peerFailed
        /// A command came before what it needs (a step before the plan).
        case outOfOrder
        /// The operating system refused (a file, a device, a permission).
        case system
        /// What the run was asked to do does not fit what it has (sizes, buffers, buckets).
        case unsupported
        /// A new membership epoch superseded the one the work ran in: it was given up, to be
        /// done again over the new members.
        case superseded
    }

    public let kind: Kind
    /// What went wrong, where.
    public let message: String
    /// The error underneath, if any.
    public let cause: (any Error)?

    public init(_ kind: Kind, _ message: String, cause: (any Error)? = nil) {
        self.kind = kind
        self.message = message
        self.cause = cause
    }

    public var description: String {
        cause.map { "\(message): \($0)" } ?? message
    }
}
