import Glibc

/// An error from libnuma, from the kernel calls behind pinning and allocation, or from a fake
/// topology description that can't be read.
public struct NUMAError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: Equatable, Sendable {
        /// A node or CPU that the topology does not have.
        case noSuchNode
        /// Memory could not be allocated.
        case outOfMemory
        /// A fake topology description is malformed.
        case invalidFakeTopology
        /// A system call failed with this errno.
        case system(Int32)
    }

    public var code: Code
    /// The C function or setting involved (`numa_alloc_onnode`, `STRAITS_FAKE_NUMA`).
    public var operation: String
    /// What was asked for, and what was expected.
    public var detail: String

    public init(code: Code, operation: String, detail: String) {
        self.code = code
        self.operation = operation
        self.detail = detail
    }

    public var description: String {
        switch code {
        case .system(let number):
            return "\(operation)(\(detail)): \(String(cString: strerror(number)))"
        default:
            return "\(operation): \(detail)"
        }
    }
}
