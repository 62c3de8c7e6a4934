import Foundation

/// A topology or job file that Straits can't use: where (file, line, field) and what was expected.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public let file: String
    public let line: Int
    /// The field's path, like `links[2].latency`; nil for syntax errors.
    public let field: String?
    public let message: String

    public init(file: String, line: Int, field: String?, message: String) {
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
                file: path, line: 0, field: nil, message: "cannot read the \(what) file: \(error.localizedDescription)")
        }
    }
}
