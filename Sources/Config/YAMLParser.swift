/// Parses the block-and-flow subset of YAML that topology and job files use: mappings,
/// sequences (`- item`), flow lists `[a, b]` and flow mappings `{ k: v }`, plain, single- and
/// double-quoted scalars, and `#` comments. Anchors, tags and multi-document streams are
/// refused with the line they are on.
public struct YAMLParser {
    private struct Line {
        let number: Int
        let indent: Int
        let text: String
    }

    private var lines: [Line] = []
    private var index = 0
    private let file: String

    /// Parses `text`; errors name `file` and the line.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> YAMLNode {
        var parser = YAMLParser(file: file)
        try parser.split(text)
        guard let first = parser.lines.first else { return .mapping([], line: 1) }
        let node = try parser.block(indent: first.indent)
        if parser.index < parser.lines.count {
            let line = parser.lines[parser.index]
            throw ConfigError(file: file, line: line.number, field: nil,
                              message: "unexpected indentation (\(line.indent) spaces) after the document's top level")
        }
        return node
    }

    private init(file: String) { self.file = file }

    private mutating func split(_ text: String) throws(ConfigError) {
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var line = String(raw)
            if line.hasSuffix("\r") { line.removeLast() }
            let indent = line.prefix { $0 == " " }.count
            let rest = line.dropFirst(indent)
            if rest.first == "\t" {
                throw ConfigError(file: file, line: number, field: nil, message: "tab in indentation; indent with spaces")
            }
            let content = Self.stripComment(String(rest)).trimmingTrailingSpaces()
            if content.isEmpty { continue }
            if content == "---" && lines.isEmpty { continue }
            if content == "---" || content == "..." {
                throw ConfigError(file: file, line: number, field: nil, message: "only one YAML document per file is supported")
            }
            lines.append(Line(number: number, indent: indent, text: content))
        }
    }

    /// Removes a `#` comment that is outside quotes and starts the line or follows a space.
    static func stripComment(_ text: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for (offset, character) in text.enumerated() {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "#" && (previous == " " || offset == 0) {
                return String(text.prefix(offset))
            }
            previous = character
        }
        return text
    }

    private mutating func block(indent: Int) throws(ConfigError) -> YAMLNode {
        let line = lines[index]
        if line.text == "-" || line.text.hasPrefix("- ") { return try sequence(indent: indent) }
        return try mapping(indent: indent)
    }

    private mutating func sequence(indent: Int) throws(ConfigError) -> YAMLNode {
        let start = lines[index].number
        var items: [YAMLNode] = []
        while index < lines.count, lines[index].indent == indent,
              lines[index].text == "-" || lines[index].text.hasPrefix("- ") {
            let line = lines[index]
            let rest = line.text.dropFirst(1).drop { $0 == " " }
            if rest.isEmpty {
                index += 1
                items.append(try nested(under: line, indent: indent) ?? .scalar("", line: line.number))
            } else if Self.splitKey(String(rest)) != nil {
                // `- key: value` opens a mapping whose keys sit at the column of `key`.
                let column = indent + (line.text.count - rest.count)
                lines[index] = Line(number: line.number, indent: column, text: String(rest))
                items.append(try mapping(indent: column))
            } else {
                index += 1
                items.append(try inline(String(rest), line: line.number))
            }
        }
        return .sequence(items, line: start)
    }

    private mutating func mapping(indent: Int) throws(ConfigError) -> YAMLNode {
        let start = lines[index].number
        var entries: [YAMLEntry] = []
        while index < lines.count, lines[index].indent == indent {
            let line = lines[index]
            if line.text == "-" || line.text.hasPrefix("- ") {
                throw ConfigError(file: file, line: line.number, field: nil, message: "a list item where a `key: value` was expected")
            }
            guard let (key, value) = Self.splitKey(line.text) else {
                throw ConfigError(file: file, line: line.number, field: nil,
                                  message: "expected `key: value`, got \"\(line.text)\"")
            }
            if entries.contains(where: { $0.key == key }) {
                throw ConfigError(file: file, line: line.number, field: key, message: "duplicate key")
            }
            index += 1
            let node: YAMLNode
            if value.isEmpty {
                if index < lines.count, lines[index].indent == indent,
                   lines[index].text == "-" || lines[index].text.hasPrefix("- ") {
                    node = try sequence(indent: indent)
                } else {
                    node = try nested(under: line, indent: indent) ?? .scalar("", line: line.number)
                }
            } else {
                node = try inline(value, line: line.number)
            }
            entries.append(YAMLEntry(key: key, value: node, line: line.number))
        }
        if index < lines.count, lines[index].indent > indent {
            let line = lines[index]
            throw ConfigError(file: file, line: line.number, field: nil,
                              message: "unexpected indentation (\(line.indent) spaces, expected \(indent))")
        }
        return .mapping(entries, line: start)
    }

    /// The block nested under `parent` (more indented), if any.
    private mutating func nested(under parent: Line, indent: Int) throws(ConfigError) -> YAMLNode? {
        guard index < lines.count, lines[index].indent > indent else { return nil }
        return try block(indent: lines[index].indent)
    }

    /// Splits `key: value` (or `key:`) at the first colon outside quotes and brackets.
    static func splitKey(_ text: String) -> (String, String)? {
        var quote: Character?
        var depth = 0
        let characters = Array(text)
        for (offset, character) in characters.enumerated() {
            if let open = quote {
                if character == open { quote = nil }
                continue
            }
            switch character {
            case "\"", "'": quote = character
            case "[", "{": depth += 1
            case "]", "}": depth -= 1
            case ":" where depth == 0 && (offset + 1 == characters.count || characters[offset + 1] == " "):
                let key = String(characters[..<offset]).trimmingTrailingSpaces()
                guard !key.isEmpty else { return nil }
                let value = String(characters[(offset + 1)...]).drop { $0 == " " }
                return (unquote(key), String(value))
            default: break
            }
        }
        return nil
    }

    static func unquote(_ text: String) -> String {
        if text.count >= 2, let first = text.first, first == "\"" || first == "'", text.last == first {
            return String(text.dropFirst().dropLast())
        }
        return text
    }

    private func inline(_ text: String, line: Int) throws(ConfigError) -> YAMLNode {
        if let first = text.first, "&*!|>".contains(first) {
            throw ConfigError(file: file, line: line, field: nil,
                              message: "YAML anchors, aliases, tags and block scalars are not supported (\"\(text)\")")
        }
        guard text.first == "[" || text.first == "{" else {
            if let first = text.first, first == "\"" || first == "'" {
                guard text.count >= 2, text.last == first else {
                    throw ConfigError(file: file, line: line, field: nil, message: "unterminated quoted text \(text)")
                }
            }
            return .scalar(Self.unquote(text), line: line)
        }
        var flow = FlowParser(characters: Array(text), line: line, file: file)
        let node = try flow.value()
        flow.skipSpaces()
        guard flow.position == flow.characters.count else {
            throw ConfigError(file: file, line: line, field: nil, message: "unexpected text after the closing bracket in \"\(text)\"")
        }
        return node
    }

    /// `[a, b]` and `{ k: v }` on one line.
    private struct FlowParser {
        let characters: [Character]
        let line: Int
        let file: String
        var position = 0

        init(characters: [Character], line: Int, file: String) {
            self.characters = characters
            self.line = line
            self.file = file
        }

        mutating func skipSpaces() {
            while position < characters.count, characters[position] == " " { position += 1 }
        }

        mutating func value() throws(ConfigError) -> YAMLNode {
            skipSpaces()
            guard position < characters.count else { throw error("a value is missing") }
            switch characters[position] {
            case "[":
                position += 1
                var items: [YAMLNode] = []
                skipSpaces()
                if position < characters.count, characters[position] == "]" { position += 1; return .sequence([], line: line) }
                while true {
                    items.append(try value())
                    skipSpaces()
                    guard position < characters.count else { throw error("missing ] in a flow list") }
                    if characters[position] == "]" { position += 1; return .sequence(items, line: line) }
                    guard characters[position] == "," else { throw error("expected , or ] in a flow list") }
                    position += 1
                }
            case "{":
                position += 1
                var entries: [YAMLEntry] = []
                skipSpaces()
                if position < characters.count, characters[position] == "}" { position += 1; return .mapping([], line: line) }
                while true {
                    skipSpaces()
                    let key = scalarText(stoppingAt: ":")
                    guard position < characters.count, characters[position] == ":" else { throw error("expected key: value in a flow mapping") }
                    position += 1
                    let item = try value()
                    if entries.contains(where: { $0.key == key }) {
                        throw ConfigError(file: file, line: line, field: key, message: "duplicate key")
                    }
                    entries.append(YAMLEntry(key: key, value: item, line: line))
                    skipSpaces()
                    guard position < characters.count else { throw error("missing } in a flow mapping") }
                    if characters[position] == "}" { position += 1; return .mapping(entries, line: line) }
                    guard characters[position] == "," else { throw error("expected , or } in a flow mapping") }
                    position += 1
                }
            default:
                return .scalar(scalarText(stoppingAt: ""), line: line)
            }
        }

        mutating func scalarText(stoppingAt extra: String) -> String {
            skipSpaces()
            if position < characters.count, characters[position] == "\"" || characters[position] == "'" {
                let open = characters[position]
                let start = position + 1
                position += 1
                while position < characters.count, characters[position] != open { position += 1 }
                let text = String(characters[start..<min(position, characters.count)])
                if position < characters.count { position += 1 }
                return text
            }
            let start = position
            while position < characters.count, !",]}".contains(characters[position]), !extra.contains(characters[position]) {
                position += 1
            }
            return String(characters[start..<position]).trimmingTrailingSpaces()
        }

        func error(_ message: String) -> ConfigError {
            ConfigError(file: file, line: line, field: nil, message: message)
        }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var text = self
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
