/// A pass over a YAML text before it is parsed: tabs in indentation are refused (YAML forbids
/// them, and libyaml's own message does not say so), and so is nesting deeper than a limit,
/// counted from indentation, `- ` markers and flow brackets. The parser's composer recurses
/// once per level, so a file of 100,000 `[` would otherwise exhaust the stack; this pass is a
/// loop with a bounded stack.
enum YAMLShape {
    static func check(_ text: String, file: String, maximumDepth: Int) throws(ConfigError) {
        var indents: [Int] = []
        var flow = 0
        // The block depth a flow collection spanning lines was opened at.
        var blockDepth = 0
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let line = raw.utf8
            var index = line.startIndex
            var indent = 0
            while index != line.endIndex, line[index] == UInt8(ascii: " ") {
                indent += 1
                index = line.index(after: index)
            }
            if flow == 0, index != line.endIndex, line[index] == UInt8(ascii: "\t") {
                throw ConfigError(
                    .syntax, file: file, line: number, field: nil, message: "tab in indentation; indent with spaces")
            }
            let content = line[index...]
            guard let first = content.first, first != UInt8(ascii: "#"), first != UInt8(ascii: "\r") else { continue }
            var depth = blockDepth
            if flow == 0 {
                // Block nesting: the indentation levels this line sits inside.
                while let top = indents.last, top >= indent { indents.removeLast() }
                indents.append(indent)
                depth = indents.count
            }
            // `- - x`: each marker opens a sequence inside the one before.
            var scan = content.startIndex
            while scan != content.endIndex, content[scan] == UInt8(ascii: "-") {
                let next = content.index(after: scan)
                guard next == content.endIndex || content[next] == UInt8(ascii: " ") else { break }
                depth += 1
                scan = next == content.endIndex ? next : content.index(after: next)
                while scan != content.endIndex, content[scan] == UInt8(ascii: " ") { scan = content.index(after: scan) }
            }
            if depth > maximumDepth { throw tooDeep(file: file, line: number, maximumDepth) }
            if flow == 0 { blockDepth = depth }
            // Flow brackets outside quotes and comments.
            var quote: UInt8?
            var previous = UInt8(ascii: " ")
            while scan != content.endIndex {
                let byte = content[scan]
                if let open = quote {
                    if byte == open { quote = nil }
                } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    quote = byte
                } else if byte == UInt8(ascii: "#") && previous == UInt8(ascii: " ") {
                    break
                } else if tokenStarts.contains(previous), let what = refused[byte] {
                    throw ConfigError(
                        .syntax, file: file, line: number, field: nil, message: "\(what) are not supported")
                } else if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
                    flow += 1
                    if blockDepth + flow > maximumDepth { throw tooDeep(file: file, line: number, maximumDepth) }
                } else if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
                    flow = max(flow - 1, 0)
                }
                previous = byte
                scan = content.index(after: scan)
            }
        }
    }

    /// What may stand before a token: a node's first character follows one of these.
    private static let tokenStarts: Set<UInt8> = [
        UInt8(ascii: " "), UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","),
    ]
    /// Node properties Straits' files do not use: anchors, aliases (which can make a small file
    /// expand without bound) and tags.
    private static let refused: [UInt8: String] = [
        UInt8(ascii: "&"): "anchors and aliases", UInt8(ascii: "*"): "anchors and aliases", UInt8(ascii: "!"): "tags",
    ]

    /// The line of the second `key:` in `text` (for a duplicate key), or nil.
    static func secondLine(ofKey key: String, in text: String) -> Int? {
        var seen = 0
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = raw.drop { $0 == " " }
            while line.hasPrefix("- ") { line = line.dropFirst(2).drop { $0 == " " } }
            guard line.hasPrefix(key + ":") || line.hasPrefix("\"\(key)\":") || line.hasPrefix("'\(key)':") else {
                continue
            }
            seen += 1
            if seen == 2 { return offset + 1 }
        }
        return nil
    }

    private static func tooDeep(file: String, line: Int, _ maximumDepth: Int) -> ConfigError {
        ConfigError(
            .tooLarge, file: file, line: line, field: nil,
            message:
                "nested more than \(maximumDepth) levels deep (lists and mappings inside each other); topology and job files need a few"
        )
    }
}
