import Foundation
import StraitsWire

/// Files that workers send the coordinator in parts (`ControlMessage.ModelPart`): the
/// coordinator says which file it expects and how long, and each part is checked against that
/// before any of its bytes are kept, so that a peer can make it hold no more than the expected
/// files. I/O-free: a complete file is handed back to be written.
public struct FileAssembly: Sendable {
    /// What a part did.
    public enum Outcome: Equatable, Sendable {
        /// Taken; more parts are to come.
        case partial
        /// The file's last part: its whole bytes, checked against their CRC32C.
        case complete(file: String, bytes: [UInt8])
        /// Not taken, with why (the file is forgotten: its sender must start again).
        case refused(String)
    }

    private var expected: [String: Int] = [:]
    private var received: [String: [UInt8]] = [:]

    public init() {}

    /// Expects `file` of exactly `bytes` bytes (the name a step's `save` gives).
    public mutating func expect(file: String, bytes: Int) {
        expected[file] = bytes
        received[file] = nil
    }

    /// Whether `file` is still expected (announced, not yet complete).
    public func awaits(_ file: String) -> Bool { expected[file] != nil }

    /// Takes one part.
    public mutating func on(_ part: ControlMessage.ModelPart) -> Outcome {
        guard let size = expected[part.file] else {
            return .refused("a part of \(part.file.debugDescription), which no step asked for")
        }
        guard part.totalBytes == size else {
            expected[part.file] = nil
            received[part.file] = nil
            return .refused("\(part.file) of \(part.totalBytes) bytes, expected \(size)")
        }
        let sofar = received[part.file]?.count ?? 0
        guard part.offset == sofar else {
            expected[part.file] = nil
            received[part.file] = nil
            return .refused("a part of \(part.file) at byte \(part.offset), expected the one at \(sofar)")
        }
        // Base64 is 4 characters per 3 bytes: refuse an oversized part before decoding it.
        guard part.data.utf8.count <= (ControlMessage.ModelPart.maximumBytes + 2) / 3 * 4,
            let data = Data(base64Encoded: part.data)
        else {
            expected[part.file] = nil
            received[part.file] = nil
            return .refused(
                "a part of \(part.file) whose data is not base64 of at most \(ControlMessage.ModelPart.maximumBytes) bytes"
            )
        }
        guard sofar + data.count <= size, data.count > 0 || size == 0 else {
            expected[part.file] = nil
            received[part.file] = nil
            return .refused("a part of \(part.file) of \(data.count) bytes at byte \(sofar), past its \(size) bytes")
        }
        received[part.file, default: []].append(contentsOf: data)
        guard sofar + data.count == size else { return .partial }
        let bytes = received[part.file] ?? []
        expected[part.file] = nil
        received[part.file] = nil
        let crc = CRC32C.checksum(bytes)
        guard crc == part.crc32c else {
            return .refused(
                "\(part.file): CRC32C \(String(crc, radix: 16)) of the bytes received, \(String(part.crc32c, radix: 16)) sent"
            )
        }
        return .complete(file: part.file, bytes: bytes)
    }
}
