import Config
import Foundation
import Testing

@Suite("topology files")
struct ClusterTopologyTests {
    static let example = """
        name: us-eu
        regions:
          - name: us-east
            hosts: 2
            devices_per_host: 2
          - name: eu-west          # a comment
            hosts: 3
            devices_per_host: 2
        links:                       # symmetric unless `directed: true`
          - between: [us-east, eu-west]
            bandwidth: 1Gbps
            latency: 40ms
            jitter: 1ms
        lan: { bandwidth: unlimited }
        """

    @Test("DESIGN.md's example parses: regions, symmetric links, units")
    func example() throws {
        let topology = try ClusterTopology.parse(Self.example, file: "t.yaml")
        #expect(topology.name == "us-eu")
        #expect(topology.regions.map(\.name) == ["us-east", "eu-west"])
        #expect(topology.regions.map(\.hosts) == [2, 3])
        #expect(topology.hostCount == 5 && topology.deviceCount == 10)
        #expect(topology.links.count == 2)
        let link = try #require(topology.link(from: "eu-west", to: "us-east"))
        #expect(link.bitsPerSecond == 1e9 && link.latencySeconds == 0.04 && link.jitterSeconds == 0.001)
        #expect(link.framing == .tcp)
        #expect(topology.lanBitsPerSecond == nil)
    }

    @Test("every preset in Deploy/topologies loads")
    func presets() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Deploy/topologies")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }
        #expect(Set(files).isSuperset(of: ["default.yaml", "two-regions.yaml", "us-eu-asia.yaml"]))
        for file in files {
            let topology = try ClusterTopology.load(path: directory.appendingPathComponent(file).path)
            #expect(topology.regions.count >= 2, "\(file)")
        }
        let usEuAsia = try ClusterTopology.load(path: directory.appendingPathComponent("us-eu-asia.yaml").path)
        // Half of the measured round trip us-east ↔ eu-central (≈ 91 ms).
        #expect(usEuAsia.link(from: "us-east", to: "eu-central")?.latencySeconds == 0.0455)
    }

    @Test("directed links may differ each way")
    func directed() throws {
        let text = """
            name: d
            regions:
              - { name: a, hosts: 1 }
              - { name: b, hosts: 1 }
            links:
              - between: [a, b]
                directed: true
                bandwidth: 100Mbps
                latency: 10ms
              - between: [b, a]
                directed: true
                bandwidth: 125MB/s
                latency: 20ms
                framing: none
                burst: 125000
            """
        let topology = try ClusterTopology.parse(text, file: "d.yaml")
        #expect(topology.link(from: "a", to: "b")?.bitsPerSecond == 1e8)
        #expect(topology.link(from: "b", to: "a")?.bitsPerSecond == 1e9)
        #expect(
            topology.link(from: "a", to: "b")?.framing == .tcp
                && topology.link(from: "b", to: "a")?.framing == ClusterTopology.Link.Framing.none)
        #expect(topology.regions.map(\.devicesPerHost) == [1, 1])
        #expect(
            topology.link(from: "a", to: "b")?.burstBytes == 0
                && topology.link(from: "b", to: "a")?.burstBytes == 125_000)
    }

    /// Replaces `old` with `new` in the example and returns the error it gives.
    func error(_ old: String, _ new: String) throws -> ConfigError {
        let text = Self.example.replacingOccurrences(of: old, with: new)
        #expect(text != Self.example, "the test's edit did not apply: \(old)")
        do {
            _ = try ClusterTopology.parse(text, file: "bad.yaml")
        } catch {
            return error
        }
        Issue.record("no error for \(new)")
        return ConfigError(.syntax, file: "", line: 0, field: nil, message: "")
    }

    @Test("errors name file, line and field, and say what was expected")
    func errors() throws {
        let typo = try error("devices_per_host: 2\n  - name: eu-west", "devices_per_hots: 2\n  - name: eu-west")
        #expect(
            typo.description
                == "bad.yaml:5: regions[0].devices_per_hots: unknown field (did you mean devices_per_host?); expected one of name, hosts, devices_per_host"
        )

        #expect(typo.kind == .unknownField)

        let latency = try error("latency: 40ms", "latency: fast")
        #expect(latency.kind == .invalidValue)
        #expect(latency.description == "bad.yaml:12: links[0].latency: expected a duration like 40ms, got \"fast\"")

        let bandwidth = try error("bandwidth: 1Gbps", "bandwidth: 1 Gigabit")
        #expect(bandwidth.line == 11 && bandwidth.field == "links[0].bandwidth")
        #expect(bandwidth.message.contains("expected a rate like 1Gbps"))

        let region = try error("[us-east, eu-west]", "[us-east, eu-wset]")
        #expect(region.line == 10 && region.message.contains("unknown region \"eu-wset\" (did you mean eu-west?)"))

        let hosts = try error("hosts: 3", "hosts: three")
        #expect(hosts.description == "bad.yaml:7: regions[1].hosts: expected a whole number, got \"three\"")

        let missing = try error("    hosts: 3\n", "")
        #expect(missing.kind == .missingField && missing.message.contains("required field is missing"), "\(missing)")

        let zero = try error("hosts: 3", "hosts: 0")
        #expect(zero.field == "regions[1].hosts" && zero.message.contains("from 1 to 1024"))

        let framing = try error("jitter: 1ms", "jitter: 1ms\n    framing: udp")
        #expect(framing.description == "bad.yaml:14: links[0].framing: expected one of tcp, none, got \"udp\"")

        let burst = try error("jitter: 1ms", "jitter: 1ms\n    burst: lots")
        #expect(burst.description == "bad.yaml:14: links[0].burst: expected a size like 16MiB or 64K, got \"lots\"")

        let jitter = try error("jitter: 1ms", "jitter: 50ms")
        #expect(jitter.line == 13 && jitter.message.contains("must not exceed the latency"))

        let missingLink = try error(
            """
            links:                       # symmetric unless `directed: true`
              - between: [us-east, eu-west]
                bandwidth: 1Gbps
                latency: 40ms
                jitter: 1ms

            """, "")
        #expect(missingLink.field == "links" && missingLink.message.contains("no link from us-east to eu-west"))

        let duplicate = try error("name: eu-west          # a comment", "name: us-east")
        #expect(duplicate.line == 6 && duplicate.message.contains("declared twice (first on line 3)"))

        let tab = try error(
            "    hosts: 2\n    devices_per_host: 2\n  - name: eu", "\thosts: 2\n    devices_per_host: 2\n  - name: eu")
        #expect(tab.line == 4 && tab.message.contains("tab"))
    }

    @Test("YAML syntax errors carry their line")
    func syntax() throws {
        for (text, line, fragment) in [
            ("name: x\nregions: [a, b\n", 2, "missing ]"),
            ("name: x\n  oops: 1\n", 2, "indentation"),
            ("name: x\nname: y\n", 2, "duplicate key"),
            ("name: &anchor x\n", 1, "anchors"),
            ("name: x\njust text\n", 2, "expected `key: value`"),
        ] {
            do {
                _ = try YAMLParser.parse(text, file: "s.yaml")
                Issue.record("no error for \(text)")
                continue
            } catch {
                #expect(error.line == line, "\(error)")
                #expect(error.message.contains(fragment), "\(error)")
            }
        }
    }

    @Test("a file nested 100,000 levels deep, or too large, gets a clear error with its line, not a crash")
    func deepNesting() throws {
        let deep: [(String, Int)] = [
            ("name: x\nregions: " + String(repeating: "[", count: 100_000) + "\n", 2),
            ("name: x\nregions:\n  " + String(repeating: "- ", count: 100_000) + "a\n", 3),
            (
                "name: x\n" + (0..<200).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n")
                    + "\n", 66
            ),
            ("a: {b: [c, {d: " + String(repeating: "{e: ", count: 99_990) + "\n", 1),
        ]
        for (text, line) in deep {
            do {
                _ = try ClusterTopology.parse(text, file: "deep.yaml")
                Issue.record("no error for a deep file")
            } catch {
                #expect(error.file == "deep.yaml" && error.line == line, "\(error)")
                #expect(error.message.contains("nested more than 64 levels"), "\(error)")
            }
        }
        // Sixty levels are still read.
        let sixty = "a: " + String(repeating: "[", count: 60) + String(repeating: "]", count: 60) + "\n"
        #expect(throws: Never.self) { try YAMLParser.parse(sixty, file: "ok.yaml") }
        let huge = "name: " + String(repeating: "x", count: YAMLParser.maximumBytes) + "\n"
        #expect { try YAMLParser.parse(huge, file: "huge.yaml") } throws: { error in
            "\(error)".contains("huge.yaml:0:") && "\(error)".contains("at most")
        }
    }

    @Test("YAML subset: nesting, flow collections, quotes, comments")
    func parser() throws {
        let node = try YAMLParser.parse(
            """
            a: "quoted # not a comment"
            b:
              - 1
              - [x, 'y z']
              -
                c: { d: 2, e: [3] }
            f: plain text here   # comment
            """, file: "p.yaml")
        guard case .mapping(let entries, _) = node else {
            Issue.record("not a mapping")
            return
        }
        #expect(entries.map(\.key) == ["a", "b", "f"])
        #expect(entries[0].value == .scalar("quoted # not a comment", line: 1))
        #expect(entries[2].value == .scalar("plain text here", line: 7))
        guard case .sequence(let items, _) = entries[1].value else {
            Issue.record("b is not a list")
            return
        }
        #expect(items.count == 3)
        #expect(items[1] == .sequence([.scalar("x", line: 4), .scalar("y z", line: 4)], line: 4))
        guard case .mapping(let inner, _) = items[2] else {
            Issue.record("item 3 is not a mapping")
            return
        }
        #expect(inner[0].key == "c" && inner[0].line == 6)
    }

    @Test("units: rates decimal, sizes binary as nccl-tests, durations")
    func units() {
        #expect(Units.bitsPerSecond("1Gbps") == 1e9)
        #expect(Units.bitsPerSecond("100 Mbps") == 1e8)
        #expect(Units.bitsPerSecond("125MB/s") == 1e9)
        #expect(Units.bitsPerSecond("fast") == nil)
        #expect(Units.bitsPerSecond("0Gbps") == nil)
        #expect(Units.seconds("40ms") == 0.04)
        #expect(Units.seconds("250us") == 0.00025)
        #expect(Units.seconds("1.5s") == 1.5)
        #expect(Units.seconds("0") == 0)
        #expect(Units.seconds("40") == nil)
        #expect(Units.bytes("64K") == 65536)
        #expect(Units.bytes("16MiB") == 16 << 20)
        #expect(Units.bytes("10MB") == 10_000_000)
        #expect(Units.bytes("1.5") == nil)
    }
}
