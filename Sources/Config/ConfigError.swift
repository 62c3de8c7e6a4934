import Foundation

/// A topology or job file that Straits can't use: what kind of mistake, where (file, line,
/// field) and what was expected.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The file cannot be read.
        case unreadable
        /// Not YAML Straits reads: a syntax error, a tab in indentation, an anchor, too deep.
        case syntax
        /// Larger than a topology or job file may be.
        case tooLarge
        /// A field the mapping does not take.
        case unknownField
        /// A field the mapping needs is not there.
        case missingField
        /// A field's value is of the wrong kind or out of range.
        case invalidValue
        /// Well-formed, but asks for what Straits cannot do (yet).
        case unsupported
    }

    public let kind: Kind
    public let file: String
    public let line: Int
    /// The field's path, like `links[2].latency`; nil for syntax errors.
    public let field: String?
    public let message: String

    public init(_ kind: Kind, file: String, line: Int, field: String?, message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    public var description: String {
        "\(file):\(line): " + (field.map { "\($0): " } ?? "") + message
    }
}

extension ConfigError {
    /// The text of a topology or job file; an unreadable file is an error naming it.
    static func readFile(_ path: String, what: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(
                .unreadable, file: path, line: 0, field: nil,
                message: "cannot read the \(what) file: \(error.localizedDescription)")
        }
    }
}
