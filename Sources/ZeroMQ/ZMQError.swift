import CZeroMQ
import Glibc

/// An error from libzmq or from a wait that Straits put a deadline on.
///
/// It carries libzmq's error number, the text `zmq_strerror` gives for it (which also names
/// libzmq's own codes above `ZMQ_HAUSNUMERO`, such as `ETERM`), the C function that failed and
/// what it was doing (an endpoint, an option).
public struct ZMQError: Error, Equatable, CustomStringConvertible, Sendable {
    /// What went wrong, in the terms a caller branches on.
    public enum Code: Equatable, Hashable, Sendable {
        /// `EAGAIN`: the operation would block (nothing to receive, or the high-water mark is reached).
        case wouldBlock
        /// `ETERM`: the socket's context was shut down or terminated.
        case terminated
        /// The deadline passed before the operation could complete.
        case timedOut
        /// The task waiting for the operation was cancelled.
        case cancelled
        /// `EHOSTUNREACH`: a ROUTER with router-mandatory set has no peer with that routing id.
        case hostUnreachable
        /// `EADDRINUSE`: the endpoint is bound already.
        case addressInUse
        /// `EINVAL`, `EPROTONOSUPPORT`, `ENOENT` and friends: the endpoint or option is malformed.
        case invalidArgument
        /// `EFSM`: the operation is not allowed in the socket's current state.
        case invalidState
        /// Any other error number.
        case other(Int32)
    }

    public var code: Code
    /// The error number from `zmq_errno()`; 0 for `timedOut` and `cancelled`.
    public var errno: Int32
    /// The C function that failed, or the Straits operation whose wait ran out.
    public var operation: String
    /// What the operation was about: an endpoint, an option name, a frame index.
    public var detail: String

    public init(code: Code, errno: Int32 = 0, operation: String, detail: String = "") {
        self.code = code
        self.errno = errno
        self.operation = operation
        self.detail = detail
    }

    /// Builds an error from a libzmq error number.
    public init(errno number: Int32, operation: String, detail: String = "") {
        self.init(code: Self.code(for: number), errno: number, operation: operation, detail: detail)
    }

    static func code(for number: Int32) -> Code {
        switch number {
        case EAGAIN: return .wouldBlock
        case ETERM: return .terminated
        case EHOSTUNREACH: return .hostUnreachable
        case EADDRINUSE: return .addressInUse
        case EINVAL, EPROTONOSUPPORT, ENOENT, EADDRNOTAVAIL, ENODEV: return .invalidArgument
        case EFSM: return .invalidState
        default: return .other(number)
        }
    }

    /// libzmq's text for the error number (it names libzmq's own codes, unlike `strerror`).
    public var reason: String {
        switch code {
        case .timedOut: return "deadline passed"
        case .cancelled: return "task cancelled"
        default: return String(cString: zmq_strerror(errno))
        }
    }

    public var description: String {
        let subject = detail.isEmpty ? operation : "\(operation)(\(detail))"
        return "\(subject): \(reason)"
    }

    static func timedOut(_ operation: String, _ detail: String = "") -> ZMQError {
        ZMQError(code: .timedOut, operation: operation, detail: detail)
    }

    static func cancelled(_ operation: String, _ detail: String = "") -> ZMQError {
        ZMQError(code: .cancelled, operation: operation, detail: detail)
    }
}
