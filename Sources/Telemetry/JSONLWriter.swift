import Foundation
import Logging
import Synchronization

/// Appends one JSON object per line to a file. Each line goes out in a single `write`, so a
/// process stopped at any moment leaves only complete lines behind.
public final class JSONLWriter: Sendable {
    public let path: String
    private let descriptor: Int32
    private let lock = Mutex<Void>(())

    /// Creates (or empties) the file at `path`; with `appending`, keeps what it has and adds to it.
    public init(path: String, appending: Bool = false) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | (appending ? 0 : O_TRUNC) | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw TelemetryError("cannot open \(path) for writing: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(descriptor) }

    /// Waits until every line written so far is on the disk (`fsync`).
    public func sync() {
        lock.withLock { _ in _ = fsync(descriptor) }
    }

    /// Appends `record` as one line.
    public func append(_ record: JSONValue) {
        appendLine(record.encoded)
    }

    /// Appends `text` and a newline, in one write.
    public func appendLine(_ text: String) {
        let line = text + "\n"
        lock.withLock { _ in
            if let failure = writeAll(Array(line.utf8), to: descriptor) {
                Logger(label: "straits").error("cannot write to \(path): \(failure)")
            }
        }
    }
}

/// Writes a whole file so that a reader, or the disk after a crash, holds the old file or the
/// whole new one: the bytes go to `path.partial`, are synced, and the file is renamed over
/// `path`, whose directory is synced too.
public func writeDurably(_ bytes: [UInt8], to path: String) throws {
    let partial = path + ".partial"
    let descriptor = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
        throw TelemetryError("cannot open \(partial) for writing: \(String(cString: strerror(errno)))")
    }
    if let failure = writeAll(bytes, to: descriptor) {
        close(descriptor)
        unlink(partial)
        throw TelemetryError("cannot write \(partial): \(failure)")
    }
    let synced = fsync(descriptor)
    close(descriptor)
    guard synced == 0, rename(partial, path) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(partial)
        throw TelemetryError("cannot write \(path): \(reason)")
    }
    let directory = open(
        (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent,
        O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if directory >= 0 {
        _ = fsync(directory)
        close(directory)
    }
}

/// Writes every byte (again after an interruption); nil, or why it could not.
func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> String? {
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { raw in
            Foundation.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
        }
        if written < 0 {
            if errno == EINTR { continue }
            return String(cString: strerror(errno))
        }
        offset += written
    }
    return nil
}

/// A telemetry failure (a file that can't be written or read), with the path.
public struct TelemetryError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
