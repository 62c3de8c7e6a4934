import Config
import Foundation
import Testing

@Suite("job files")
struct JobSpecTests {
    @Test("the presets load; defaults fill the rest")
    func presets() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Deploy/jobs")
        let sync = try JobSpec.load(path: directory.appendingPathComponent("sync.yaml").path)
        #expect(sync.kind == .sync && sync.steps > 0 && sync.gradientBytes > 0)
        for name in ["default.yaml", "ddp-vs-diloco.yaml"] {
            let train = try JobSpec.load(path: directory.appendingPathComponent(name).path)
            #expect(train.kind == .train && train.training!.schedules.count >= 1)
        }
        let bench = try JobSpec.load(path: directory.appendingPathComponent("bench.yaml").path)
        #expect(bench.kind == .bench)
        #expect(bench.benchSizes == [64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20])
    }

    @Test("bad fields name file, line and field")
    func errors() throws {
        let cases: [(String, String)] = [
            ("name: j\nkind: tran\n", "j.yaml:2: kind: expected one of sync, bench, train, got \"tran\""),
            ("name: j\nkind: train\n", "j.yaml:1: model: required field is missing"),
            ("name: j\nsteps: -1\n", "j.yaml:2: steps: expected a whole number from 1 to 1000000, got -1"),
            (
                "name: j\ngradient: 3\n",
                "j.yaml:2: gradient: expected a whole number of float32 elements (a multiple of 4 bytes) up to 1 GiB, got 3 bytes"
            ),
            ("name: j\ncompute: soon\n", "j.yaml:2: compute: expected a duration like 40ms, got \"soon\""),
            ("name: j\nalgo: tree\n", "j.yaml:2: algo: expected one of auto, ring, hier, got \"tree\""),
            (
                "name: j\nstpes: 3\n",
                "j.yaml:2: stpes: unknown field (did you mean steps?); expected one of name, kind, steps, gradient, compute, samples_per_step, algo, min_bytes, max_bytes, step_factor, iters, warmup, timeout, chunk, sizes, model, data, optimizer, schedules, bucket, target_loss, loss_window, faults, quorum"
            ),
            ("kind: sync\n", "j.yaml:1: name: required field is missing; expected a name"),
            // Durations are bounded, so no later conversion to nanoseconds can overflow.
            (
                "name: j\ntimeout: 100000000000000000s\n",
                "j.yaml:2: timeout: expected a duration from 0 up to 1000000s (11.6 days), got 100000000000000000s"
            ),
            ("name: j\ntimeout: 0s\n", "j.yaml:2: timeout: expected at least 1ms, got 0.0 s"),
            // No message carries more than a data frame's largest payload.
            (
                "name: j\nchunk: 32MiB\n",
                "j.yaml:2: chunk: expected a size from 4 to 16777216 bytes, got 33554432"
            ),
            (
                "name: j\nquorum: { hosts: 0 }\n",
                "j.yaml:2: quorum.hosts: expected a whole number from 1 to 1000000, got 0"
            ),
            (
                "name: j\nquorum: { host: 2 }\n",
                "j.yaml:2: quorum.host: unknown field (did you mean hosts?); expected one of hosts, regions"
            ),
            (
                "name: j\ncompute: 2000000s\n",
                "j.yaml:2: compute: expected a duration from 0 up to 1000000s (11.6 days), got 2000000s"
            ),
        ]
        for (text, expected) in cases {
            #expect(throws: ConfigError.self) { try JobSpec.parse(text, file: "j.yaml") }
            do {
                _ = try JobSpec.parse(text, file: "j.yaml")
            } catch {
                #expect(error.description == expected)
            }
        }
    }

    @Test("a quorum: hosts and regions, each at least 1; absent, the job needs every host")
    func quorum() throws {
        #expect(try JobSpec.parse("name: j\n", file: "j.yaml").quorum == nil)
        let quorum = try #require(try JobSpec.parse("name: j\nquorum: { hosts: 3 }\n", file: "j.yaml").quorum)
        #expect(quorum.hosts == 3 && quorum.regions == 1 && quorum.line == 2)
        let both = try JobSpec.parse("name: j\nquorum:\n  hosts: 2\n  regions: 2\n", file: "j.yaml").quorum
        #expect(both?.hosts == 2 && both?.regions == 2)
    }
}
