/// Typed, checked access to a YAML mapping: every error names file, line and the field's path,
/// and fields the reader doesn't know are refused with the list of those it does.
public struct FieldReader {
    public let file: String
    public let path: String
    public let line: Int
    let entries: [YAMLEntry]
    private let known: [String]

    /// Reads `node` as a mapping with the fields `known`; `path` prefixes field names in errors.
    public init(_ node: YAMLNode, file: String, path: String, known: [String]) throws(ConfigError) {
        guard case .mapping(let entries, let line) = node else {
            throw ConfigError(
                .invalidValue, file: file, line: node.line, field: path.isEmpty ? nil : path,
                message: "expected a mapping of \(known.joined(separator: ", ")), got \(node.kindDescription)")
        }
        self.file = file
        self.path = path
        self.line = line
        self.entries = entries
        self.known = known
        for entry in entries where !known.contains(entry.key) {
            let suggestion = Self.closest(entry.key, in: known).map { " (did you mean \($0)?)" } ?? ""
            throw ConfigError(
                .unknownField, file: file, line: entry.line, field: fieldPath(entry.key),
                message: "unknown field\(suggestion); expected one of \(known.joined(separator: ", "))")
        }
    }

    public func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public func node(_ key: String) -> YAMLNode? { entries.first { $0.key == key }?.value }

    public func contains(_ key: String) -> Bool { node(key) != nil }

    /// An error about field `key`: missing when the mapping lacks it, invalid otherwise.
    func error(_ key: String, _ message: String, line: Int? = nil) -> ConfigError {
        ConfigError(
            node(key) == nil ? .missingField : .invalidValue, file: file, line: line ?? node(key)?.line ?? self.line,
            field: fieldPath(key), message: message)
    }

    public func required(_ key: String) throws(ConfigError) -> YAMLNode {
        guard let node = node(key) else { throw error(key, "required field is missing") }
        return node
    }

    public func string(_ key: String, default fallback: String? = nil) throws(ConfigError) -> String {
        guard let node = node(key) else {
            if let fallback { return fallback }
            throw error(key, "required field is missing; expected a name")
        }
        guard case .scalar(let text, _) = node, !text.isEmpty else {
            throw error(key, "expected a name, got \(node.kindDescription)")
        }
        return text
    }

    public func choice(_ key: String, of choices: [String], default fallback: String) throws(ConfigError) -> String {
        let text = try string(key, default: fallback)
        guard choices.contains(text) else {
            throw error(key, "expected one of \(choices.joined(separator: ", ")), got \"\(text)\"")
        }
        return text
    }

    public func integer(_ key: String, default fallback: Int? = nil, minimum: Int = Int.min, maximum: Int = Int.max)
        throws(ConfigError) -> Int
    {
        guard let node = node(key) else {
            if let fallback { return fallback }
            throw error(key, "required field is missing; expected a whole number")
        }
        guard case .scalar(let text, _) = node, let value = Int(text) else {
            throw error(key, "expected a whole number, got \(node.kindDescription)")
        }
        guard value >= minimum && value <= maximum else {
            throw error(
                key,
                "expected a whole number from \(minimum) to \(maximum == Int.max ? "any" : String(maximum)), got \(value)"
            )
        }
        return value
    }

    public func number(_ key: String, default fallback: Double? = nil) throws(ConfigError) -> Double {
        guard let node = node(key) else {
            if let fallback { return fallback }
            throw error(key, "required field is missing; expected a number")
        }
        guard case .scalar(let text, _) = node, let value = Double(text), value.isFinite else {
            throw error(key, "expected a number, got \(node.kindDescription)")
        }
        return value
    }

    /// A number from `minimum` to `maximum` (both included unless `above` says the minimum is not).
    public func number(
        _ key: String, default fallback: Double? = nil, minimum: Double, maximum: Double, above: Bool = false
    ) throws(ConfigError) -> Double {
        let value = try number(key, default: fallback)
        guard value <= maximum, above ? value > minimum : value >= minimum else {
            throw error(
                key,
                "expected a number \(above ? "above" : "from") \(Units.plain(minimum)) \(above ? "up to" : "to") \(Units.plain(maximum)), got \(Units.plain(value))"
            )
        }
        return value
    }

    /// A count such as `10B` or `1.5M` (decimal suffixes K, M, G or B, T), from `minimum` to `maximum`.
    public func count(_ key: String, default fallback: Int? = nil, minimum: Int = 0, maximum: Int = Int.max)
        throws(ConfigError) -> Int
    {
        guard let node = node(key) else {
            if let fallback { return fallback }
            throw error(key, "required field is missing; expected a count like 10B or 1.5M")
        }
        guard case .scalar(let text, _) = node, let value = Units.count(text) else {
            throw error(key, "expected a count like 10B or 1.5M (K, M, B, T), got \(node.kindDescription)")
        }
        guard value >= minimum && value <= maximum else {
            throw error(key, "expected a count from \(minimum) to \(maximum), got \(value)")
        }
        return value
    }

    public func boolean(_ key: String, default fallback: Bool) throws(ConfigError) -> Bool {
        guard let node = node(key) else { return fallback }
        guard case .scalar(let text, _) = node, ["true", "false"].contains(text) else {
            throw error(key, "expected true or false, got \(node.kindDescription)")
        }
        return text == "true"
    }

    /// The longest duration a file may give (about 11.6 days): a timeout, a latency or a compute
    /// time past it is a mistake, and a bound keeps every later conversion (to nanoseconds, to a
    /// `Duration`) in range.
    public static let maximumSeconds = 1e6

    /// A duration such as `40ms`; seconds, from 0 up to `maximumSeconds`.
    public func seconds(_ key: String, default fallback: Double? = nil) throws(ConfigError) -> Double {
        guard let node = node(key) else {
            if let fallback { return fallback }
            throw error(key, "required field is missing; expected a duration like 40ms")
        }
        guard case .scalar(let text, _) = node, let value = Units.seconds(text) else {
            throw error(key, "expected a duration like 40ms, got \(node.kindDescription)")
        }
        guard value.isFinite, value >= 0, value <= Self.maximumSeconds else {
            throw error(key, "expected a duration from 0 up to 1000000s (11.6 days), got \(text)")
        }
        return value
    }

    /// A rate such as `1Gbps` or `125MB/s`; bits per second. `unlimited` gives nil.
    public func bitsPerSecond(_ key: String, allowUnlimited: Bool) throws(ConfigError) -> Double? {
        guard let node = node(key) else {
            if allowUnlimited { return nil }
            throw error(key, "required field is missing; expected a rate like 1Gbps")
        }
        guard case .scalar(let text, _) = node else {
            throw error(key, "expected a rate like 1Gbps, got \(node.kindDescription)")
        }
        if allowUnlimited && text == "unlimited" { return nil }
        guard let value = Units.bitsPerSecond(text) else {
            throw error(
                key, "expected a rate like 1Gbps or 125MB/s\(allowUnlimited ? " or unlimited" : ""), got \"\(text)\"")
        }
        return value
    }

    /// A size such as `16MiB` or `64K`; bytes.
    public func bytes(_ key: String, default fallback: Int? = nil, minimum: Int = 0, maximum: Int = Int.max)
        throws(ConfigError) -> Int
    {
        guard let node = node(key) else {
            if let fallback { return fallback }
            throw error(key, "required field is missing; expected a size like 16MiB")
        }
        guard case .scalar(let text, _) = node, let value = Units.bytes(text) else {
            throw error(key, "expected a size like 16MiB or 64K, got \(node.kindDescription)")
        }
        guard value >= minimum && value <= maximum else {
            throw error(
                key,
                "expected a size from \(minimum) to \(maximum == Int.max ? "any" : String(maximum)) bytes, got \(value)"
            )
        }
        return value
    }

    /// The entry's items, each with its path (`regions[1]`).
    /// When a fault begins: `at` (seconds after the job's first step) or `step`, not both; one of
    /// them when `required`, else at once (`at` 0). `what` names it in the error.
    func when(required: Bool, what: String) throws(ConfigError) -> (atSeconds: Double?, atStep: Int?) {
        guard !(contains("at") && contains("step")), !required || contains("at") || contains("step") else {
            throw ConfigError(
                .invalidValue, file: file, line: line, field: fieldPath("at"),
                message: "give when \(what): at (a time after the first step) or step, one of them")
        }
        let step = contains("step") ? try integer("step", minimum: 0, maximum: 1_000_000) : nil
        return (step == nil ? try seconds("at", default: 0) : nil, step)
    }

    public func list(_ key: String) throws(ConfigError) -> [(node: YAMLNode, path: String)] {
        let node = try required(key)
        guard case .sequence(let items, _) = node else {
            throw error(key, "expected a list, got \(node.kindDescription)")
        }
        return items.enumerated().map { (node: $0.element, path: "\(fieldPath(key))[\($0.offset)]") }
    }

    /// The known name closest to `text` by edit distance, when it is close enough to be a typo.
    static func closest(_ text: String, in names: [String]) -> String? {
        let best = names.map { (name: $0, distance: editDistance(Array(text), Array($0))) }.min {
            $0.distance < $1.distance
        }
        guard let best, best.distance <= max(2, text.count / 3) else { return nil }
        return best.name
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(Swift.min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}
