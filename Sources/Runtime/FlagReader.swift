/// Reads `--flag value` command lines, with errors that name the command, the flag and what it
/// expects.
struct FlagReader {
    let command: String
    let arguments: [String]
    private(set) var index = 0

    init(command: String, arguments: [String]) {
        self.command = command
        self.arguments = arguments
    }

    /// The next flag, or nil at the end.
    mutating func next() -> String? {
        guard index < arguments.count else { return nil }
        defer { index += 1 }
        return arguments[index]
    }

    mutating func value(_ flag: String) throws -> String {
        guard index < arguments.count else { throw RuntimeError("\(command): \(flag) needs a value") }
        defer { index += 1 }
        return arguments[index]
    }

    mutating func positive(_ flag: String) throws -> Double {
        let text = try value(flag)
        guard let number = Double(text), number > 0 else { throw RuntimeError("\(command): \(flag) expects a positive number, got \"\(text)\"") }
        return number
    }

    mutating func integer(_ flag: String, minimum: Int) throws -> Int {
        let text = try value(flag)
        guard let number = Int(text), number >= minimum else {
            throw RuntimeError("\(command): \(flag) expects a whole number ≥ \(minimum), got \"\(text)\"")
        }
        return number
    }

    /// A whole number of microseconds (0 or more), or nil for `off`.
    mutating func microsecondsOrOff(_ flag: String) throws -> Int? {
        let text = try value(flag)
        if text == "off" { return nil }
        guard let number = Int(text), number >= 0 else {
            throw RuntimeError("\(command): \(flag) expects microseconds (0 or more) or off, got \"\(text)\"")
        }
        return number
    }

    func unknown(_ flag: String) -> RuntimeError {
        RuntimeError("\(command): unknown flag \(flag); --help lists them")
    }
}
