/// A node of the YAML subset Straits' topology and job files use, with the line it starts on,
/// so that every error can name file, line and field.
public indirect enum YAMLNode: Sendable, Equatable {
    /// A plain or quoted scalar.
    case scalar(String, line: Int)
    /// A mapping, keys in file order.
    case mapping([YAMLEntry], line: Int)
    /// A sequence.
    case sequence([YAMLNode], line: Int)

    public var line: Int {
        switch self {
        case .scalar(_, let line), .mapping(_, let line), .sequence(_, let line): line
        }
    }

    /// What a person would call this node in an error ("a mapping", "the text \"fast\"").
    public var kindDescription: String {
        switch self {
        case .scalar(let text, _): text.isEmpty ? "nothing" : "\"\(text)\""
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }
}

/// One `key: value` of a mapping.
public struct YAMLEntry: Sendable, Equatable {
    public let key: String
    public let value: YAMLNode
    public let line: Int
}
