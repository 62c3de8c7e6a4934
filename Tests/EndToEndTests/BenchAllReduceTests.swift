import Foundation
import Testing

/// The `straits` binary built beside this test bundle.
func straitsBinary() throws -> URL {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent("straits")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    let fallback = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(
        ".build/debug/straits")
    guard FileManager.default.isExecutableFile(atPath: fallback.path) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: fallback.path])
    }
    return fallback
}

/// Runs `straits` (or `binary`, beside it) with `arguments`, killing it after `timeout`; returns
/// its status and output.
func runStraits(_ arguments: [String], binary: String = "straits", timeout: TimeInterval = 120) throws -> (
    status: Int32, output: String
) {
    let process = Process()
    process.executableURL = try straitsBinary().deletingLastPathComponent().appendingPathComponent(binary)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    watchdog.cancel()
    return (process.terminationStatus, output)
}

@Suite("straits bench allreduce, real processes", .serialized)
struct BenchAllReduceTests {
    @Test(
        "2 worker processes over tcp: exact results for every algorithm, nccl-tests columns and JSON",
        arguments: ["ring", "rhd", "rd", "auto"])
    func twoWorkers(algorithm: String) throws {
        let json = FileManager.default.temporaryDirectory.appendingPathComponent(
            "straits-bench-\(getpid())-\(algorithm).jsonl")
        defer { try? FileManager.default.removeItem(at: json) }
        let (status, output) = try runStraits([
            "bench", "allreduce", "-b", "4K", "-e", "1M", "-f", "16", "-n", "3", "-w", "1",
            "-c", "1", "--ranks", "2", "--algo", algorithm, "--json", json.path,
        ])
        #expect(status == 0, "\(output)")
        #expect(
            output.contains("size") && output.contains("algbw(GB/s)") && output.contains("busbw(GB/s)")
                && output.contains("#wrong"))
        #expect(output.contains("# Avg bus bandwidth"))
        // The planner's calibration: each candidate's time at the anchors up to 1 MiB (rhd is
        // the ring over 2 ranks, so auto times ring and rd), and a model time on every row.
        let candidates = algorithm == "auto" ? ["ring", "rd"] : [algorithm]
        for candidate in candidates {
            #expect(
                output.split(separator: "\n").contains {
                    $0.hasPrefix("#   \(candidate): 8 KiB ") && $0.contains("128 KiB") && $0.contains("512 KiB")
                        && !$0.contains("2 MiB")
                }, "\(output)")
        }
        #expect(output.components(separatedBy: ", model ").count == 4, "\(output)")
        let lines = try String(contentsOf: json, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)  // 4 KiB, 64 KiB, 1 MiB
        for line in lines {
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            for field in [
                "size_bytes", "count", "ranks", "algo", "transport", "time_us", "p50_us", "p99_us", "algbw_gbps",
                "busbw_gbps", "wrong",
            ] {
                #expect(record?[field] != nil, "missing \(field) in \(line)")
            }
            #expect(record?["wrong"] as? Int == 0)
        }
    }

    @Test("2 workers × 2 devices, hierarchical, over ipc; and 3 ranks as threads over inproc")
    func hierarchicalAndInproc() throws {
        let hier = try runStraits([
            "bench", "allreduce", "-b", "1000", "-e", "3M", "-f", "30", "-n", "3", "-w", "1",
            "--ranks", "4", "--devices-per-worker", "2", "--transport", "ipc", "--algo", "hier",
        ])
        #expect(hier.status == 0, "\(hier.output)")
        #expect(hier.output.contains("hier(") && hier.output.contains("2 streams"))
        let inproc = try runStraits([
            "bench", "allreduce", "-b", "1M", "-e", "1M", "-n", "3", "-w", "1",
            "--ranks", "3", "--transport", "inproc",
        ])
        #expect(inproc.status == 0, "\(inproc.output)")
        #expect(inproc.output.contains("# Out of bounds values : 0 OK"))
    }

    @Test(
        "over shared memory: 2 workers, every algorithm; 3 workers, direct and the planner's choice; 2 workers × 2 devices, hierarchical; the files are removed",
        arguments: ["ring", "rhd", "rd", "hier", "direct", "auto"])
    func sharedMemory(_ algorithm: String) throws {
        let devices = algorithm == "hier" ? "2" : "1"
        let ranks = ["hier": "4", "direct": "3", "auto": "3"][algorithm] ?? "2"
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: "/dev/shm"))
        let (status, output) = try runStraits([
            "bench", "allreduce", "-b", "1000", "-e", "3M", "-f", "30", "-n", "3", "-w", "1",
            "--ranks", ranks, "--devices-per-worker", devices, "--transport", "shm", "--algo", algorithm,
        ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("transport shm") && output.contains("# Out of bounds values : 0 OK"))
        if algorithm == "auto" { #expect(output.contains("#   direct: 8 KiB ")) }
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: "/dev/shm")).subtracting(before)
        #expect(left.filter { $0.hasPrefix("straits-shm-") }.isEmpty, "left behind: \(left)")
    }

    @Test("4 worker processes: messages of the next collective that arrive early are kept, not refused")
    func fourWorkers() throws {
        let (status, output) = try runStraits([
            "bench", "allreduce", "-b", "64K", "-e", "256K", "-f", "4", "-n", "5", "-w", "2",
            "--ranks", "4", "--algo", "rd",
        ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("# Out of bounds values : 0 OK"))
    }

    @Test("bad flags get a clear error")
    func badFlags() throws {
        let (status, output) = try runStraits(["bench", "allreduce", "--ranks", "3", "--devices-per-worker", "2"])
        #expect(status != 0)
        #expect(output.contains("--ranks 3 is not a multiple of --devices-per-worker 2"))
        let direct = try runStraits(["bench", "allreduce", "--algo", "direct", "--transport", "tcp"])
        #expect(
            direct.status != 0 && direct.output.contains("--algo direct") && direct.output.contains("--transport shm"))
        let help = try runStraits(["bench", "allreduce", "--help"])
        #expect(help.status == 0 && help.output.contains("--devices-per-worker"))
    }
}
