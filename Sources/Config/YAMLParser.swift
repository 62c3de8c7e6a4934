import Yams

/// Reads topology and job files with Yams (libyaml) into `YAMLNode`s that keep the line each
/// node starts on. What Straits' files need is taken: mappings, sequences, flow collections,
/// quoted and plain scalars, comments. Anchors, aliases and tags are refused with their line
/// (`YAMLShape`), and so is nesting deeper than `maximumDepth` (checked before libyaml and Yams, whose
/// composer recurses once per level, see the text).
public enum YAMLParser {
    /// The deepest nesting a file may have; Straits' own files use four levels.
    public static let maximumDepth = 64
    /// The largest file taken, in bytes (the default topology is under 1 KB).
    public static let maximumBytes = 4 << 20

    /// Parses `text`; errors name `file` and the line.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> YAMLNode {
        guard text.utf8.count <= maximumBytes else {
            throw ConfigError(
                .tooLarge, file: file, line: 0, field: nil,
                message: "\(text.utf8.count) bytes; a topology or job file may have \(maximumBytes) at most")
        }
        try YAMLShape.check(text, file: file, maximumDepth: maximumDepth)
        let root: Node?
        do {
            root = try Yams.Parser(yaml: text).singleRoot()
        } catch let error as YamlError {
            throw Self.translate(error, file: file, text: text)
        } catch {
            throw ConfigError(.syntax, file: file, line: 0, field: nil, message: "\(error)")
        }
        guard let root else { return .mapping([], line: 1) }
        return try convert(root, file: file)
    }

    private static func convert(_ node: Node, file: String) throws(ConfigError) -> YAMLNode {
        let line = node.mark?.line ?? 0
        switch node {
        case .scalar(let scalar):
            return .scalar(scalar.string, line: line)
        case .sequence(let sequence):
            var items: [YAMLNode] = []
            for item in sequence { items.append(try convert(item, file: file)) }
            return .sequence(items, line: line)
        case .mapping(let mapping):
            var entries: [YAMLEntry] = []
            for (key, value) in mapping {
                guard case .scalar(let name) = key else {
                    throw ConfigError(
                        .syntax, file: file, line: key.mark?.line ?? line, field: nil,
                        message: "a key must be plain text, not \(key.isMapping ? "a mapping" : "a list")")
                }
                let keyLine = key.mark?.line ?? line
                if let first = entries.first(where: { $0.key == name.string }) {
                    throw ConfigError(
                        .syntax, file: file, line: keyLine, field: name.string,
                        message: "duplicate key (first on line \(first.line))")
                }
                entries.append(YAMLEntry(key: name.string, value: try convert(value, file: file), line: keyLine))
            }
            return .mapping(entries, line: line)
        case .alias:
            throw ConfigError(
                .syntax, file: file, line: line, field: nil, message: "anchors and aliases are not supported")
        }
    }

    /// libyaml's error, with the line it concerns and words a person can act on.
    private static func translate(_ error: YamlError, file: String, text: String) -> ConfigError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            // An unclosed flow collection or an unfinished key is reported where it began.
            let line = context.map { min($0.mark.line, mark.line) } ?? mark.line
            var message = problem
            if problem.contains("did not find expected ',' or ']'") {
                message = "missing ] (or a comma) in a flow list"
            } else if problem.contains("did not find expected ',' or '}'") {
                message = "missing } (or a comma) in a flow mapping"
            } else if problem.contains("could not find expected ':'") {
                message = "expected `key: value`"
            } else if problem.contains("mapping values are not allowed") {
                message = "a `key: value` here does not fit: check the indentation"
            } else if problem.contains("did not find expected key")
                || problem.contains("did not find expected <document start>")
            {
                message = "unexpected indentation or text (\(problem))"
            }
            if let context { message += " (\(context.text) on line \(context.mark.line))" }
            return ConfigError(.syntax, file: file, line: line, field: nil, message: message)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let line = duplicates.first.flatMap { YAMLShape.secondLine(ofKey: $0, in: text) } ?? context.mark.line
            return ConfigError(.syntax, file: file, line: line, field: duplicates.first, message: "duplicate key")
        case .reader(let problem, _, _, _):
            return ConfigError(
                .unreadable, file: file, line: 0, field: nil, message: "not readable as text: \(problem)")
        default:
            return ConfigError(.syntax, file: file, line: 0, field: nil, message: "\(error)")
        }
    }
}

extension Node {
    fileprivate var isMapping: Bool {
        if case .mapping = self { return true }
        return false
    }
}
