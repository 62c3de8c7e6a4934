extension ControlMessage.Join {
    /// What a joining process is: a host's worker, or a region's gateway. The wire field `role`
    /// is absent for a worker and `gateway` for a gateway; any other value is kept so that the
    /// coordinator can refuse it by name.
    public enum Role: Equatable, Hashable, Sendable {
        case worker
        case gateway
        case unknown(String)

        /// The `role` field on the wire (nil for a worker).
        public var wireValue: String? {
            switch self {
            case .worker: nil
            case .gateway: "gateway"
            case .unknown(let text): text
            }
        }

        public init(wireValue: String?) {
            switch wireValue {
            case nil: self = .worker
            case "gateway": self = .gateway
            case let text?: self = .unknown(text)
            }
        }
    }

    /// The typed view of `role`.
    public var memberRole: Role { Role(wireValue: role) }
}
