/// A failure in the runtime, with what was being done and where, in words a person can act on.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
