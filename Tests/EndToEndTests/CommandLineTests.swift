import Foundation
import Testing

/// The four executables' command lines as a person meets them: help generated from the
/// declarations, mistakes named with the flag meant, shell completion.
@Suite("command lines of the four executables", .serialized)
struct CommandLineTests {
    @Test("straits --help lists every command; each command's --help lists its flags")
    func straitsHelp() throws {
        let top = try runStraits(["--help"])
        #expect(top.status == 0)
        for command in ["bench", "sweep", "report", "topology", "job"] {
            #expect(top.output.contains("  \(command) "), "\(top.output)")
        }
        #expect(!top.output.contains("bench-worker"))
        for (command, flag) in [
            (["bench", "allreduce"], "--devices-per-worker"), (["sweep"], "--bandwidth"), (["report"], "<run-dir>"),
            (["topology"], "--hosts"), (["job"], "<file>"),
        ] {
            let help = try runStraits(command + ["--help"])
            #expect(
                help.status == 0 && help.output.contains("USAGE: straits \(command.joined(separator: " "))"),
                "\(help.output)")
            #expect(help.output.contains(flag), "\(command): \(help.output)")
        }
    }

    @Test(
        "the three daemons' --help documents every flag",
        arguments: [
            (
                "straits-coordinator",
                ["--topology", "--job", "--run-dir", "--bind", "--heartbeat-ms", "--no-gateways", "--calibration-pool"]
            ),
            (
                "straits-worker",
                [
                    "--coordinator", "--region", "--host", "--devices", "--transport", "--arrival-wait",
                    "--protocol-version",
                ]
            ),
            (
                "straits-gateway",
                ["--coordinator", "--topology", "--chunk-bytes", "--delivery-threads", "--cpu-latency-us", "--hold"]
            ),
        ])
    func daemonHelp(binary: String, flags: [String]) throws {
        let help = try runStraits(["--help"], binary: binary)
        #expect(help.status == 0 && help.output.contains("USAGE: \(binary)"))
        for flag in flags { #expect(help.output.contains(flag), "\(binary) --help lacks \(flag)") }
    }

    @Test("a misspelt flag is named, with the flag meant; a bad value names the flag and the value")
    func mistakes() throws {
        let coordinator = try runStraits(["--topolgy", "t.yaml"], binary: "straits-coordinator")
        #expect(coordinator.status == 64)
        #expect(
            coordinator.output.contains("Unknown option '--topolgy'. Did you mean '--topology'?"),
            "\(coordinator.output)")
        let sweep = try runStraits(["sweep", "--bandwith", "1Gbps"])
        #expect(sweep.status != 0 && sweep.output.contains("Did you mean '--bandwidth'?"), "\(sweep.output)")
        let worker = try runStraits(
            ["--coordinator", "tcp://127.0.0.1:1", "--region", "a", "--arrival-wait", "spin"], binary: "straits-worker")
        #expect(
            worker.status == 64 && worker.output.contains("'spin' is invalid for '--arrival-wait"), "\(worker.output)")
        let gateway = try runStraits(
            ["--coordinator", "x", "--region", "a", "--topology", "t.yaml", "--heartbeat-ms", "inf"],
            binary: "straits-gateway")
        #expect(gateway.status == 64 && gateway.output.contains("--heartbeat-ms"), "\(gateway.output)")
    }

    @Test("straits --generate-completion-script writes a bash completion that knows the commands")
    func completion() throws {
        let bash = try runStraits(["--generate-completion-script", "bash"])
        #expect(bash.status == 0 && bash.output.hasPrefix("#!/bin/bash"))
        #expect(bash.output.contains("allreduce") && bash.output.contains("--devices-per-worker"))
        let zsh = try runStraits(["--generate-completion-script", "zsh"])
        #expect(zsh.status == 0 && zsh.output.contains("#compdef straits"))
    }
}
