import Foundation
import Synchronization
import Transport

/// The processes a command started, stopped again whatever happens: when the owner is done
/// (`stopAll`), when one of them fails, and on SIGINT or SIGTERM.
public final class ChildProcesses: Sendable {
    private let processes = Mutex<[Process]>([])
    private static let all = Mutex<[ChildProcesses]>([])

    public init() {}

    /// Starts `executable` with `arguments`; its output goes to `log` (a file, created or
    /// emptied), or to this process's output when there is none.
    @discardableResult
    public func start(_ executable: String, _ arguments: [String], log: String? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // Straits runs one BLAS thread per caller (`BLAS.useOneThread`). Told so only once it
        // has loaded, OpenBLAS has already started a server thread per core, and each spins on
        // sched_yield for its first tenth of a second or so: tens of thousands of switches on the
        // cores where the new process's ranks start and probe their links.
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_NUM_THREADS"] = "1"
        process.environment = environment
        if let log {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            guard let handle = FileHandle(forWritingAtPath: log) else {
                throw RuntimeError(.system, "cannot write the log \(log)")
            }
            process.standardOutput = handle
            process.standardError = handle
        }
        try process.run()
        processes.withLock { $0.append(process) }
        return process
    }

    /// A description of the first process that exited with a failure, if any.
    public func firstFailure() -> String? {
        processes.withLock { list in
            for process in list where !process.isRunning && process.terminationStatus != 0 {
                return
                    "\(process.executableURL?.lastPathComponent ?? "child") \(process.arguments?.prefix(5).joined(separator: " ") ?? "") (pid \(process.processIdentifier)) exited with status \(process.terminationStatus)"
            }
            return nil
        }
    }

    /// Waits for every process to exit; false (and all stopped) if they don't within `timeout`.
    public func waitAll(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while processes.withLock({ $0.contains { $0.isRunning } }) {
            if ContinuousClock.now >= deadline {
                stopAll()
                return false
            }
            usleep(20_000)
        }
        return true
    }

    /// Sends SIGTERM to every running process, then SIGKILL to any still there after 2 s, and
    /// removes the socket files they leave behind.
    public func stopAll() {
        let running = processes.withLock { $0.filter(\.isRunning) }
        for process in running { kill(process.processIdentifier, SIGTERM) }
        let deadline = ContinuousClock.now + .seconds(2)
        while running.contains(where: \.isRunning) && ContinuousClock.now < deadline { usleep(10_000) }
        for process in running where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in running {
            process.waitUntilExit()
            DataTransport.removeSocketFiles(ofProcess: process.processIdentifier)
            SharedMemoryPlane.removeFiles(ofProcess: process.processIdentifier)
        }
    }

    /// On SIGINT or SIGTERM: stop the processes of every `ChildProcesses`, then exit 130.
    public func installSignalHandlers() {
        Self.all.withLock { $0.append(self) }
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                for children in ChildProcesses.all.withLock({ $0 }) { children.stopAll() }
                exit(130)
            }
            source.resume()
            Self.sources.keep(source)
        }
    }

    /// Keeps the signal sources alive for the life of the process.
    private static let sources = SignalSources()

    private final class SignalSources: @unchecked Sendable {
        // Unchecked Sendable: the list is only appended to, under the lock.
        private let lock = NSLock()
        private var sources: [any DispatchSourceSignal] = []

        func keep(_ source: any DispatchSourceSignal) {
            lock.lock()
            sources.append(source)
            lock.unlock()
        }
    }
}
