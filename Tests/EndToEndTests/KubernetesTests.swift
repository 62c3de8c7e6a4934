import Foundation
import Testing

@Suite("Kubernetes: manifests validate against the API's schemas", .serialized)
struct KubernetesTests {
    static func straits(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = try straitsBinary()
        process.arguments = arguments
        process.currentDirectoryURL = repositoryRoot
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(
        "straits k8s renders the committed Deploy/k8s/straits.yaml; it and a render with keys and a run claim pass strict validation; a wrong field fails it"
    )
    func validate() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("straits-k8s-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("keys"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let rendered = try Self.straits(["k8s"])
        #expect(rendered.status == 0)
        let committed = try String(
            contentsOf: repositoryRoot.appendingPathComponent("Deploy/k8s/straits.yaml"), encoding: .utf8)
        #expect(rendered.output == committed, "Deploy/k8s/straits.yaml is not what straits k8s renders now")

        try "public-key-bytes".write(
            to: directory.appendingPathComponent("keys/cluster.key"), atomically: true, encoding: .utf8)
        let withKeys = directory.appendingPathComponent("keys.yaml").path
        let keyed = try Self.straits([
            "k8s", "--topology", "Deploy/topologies/two-regions.yaml", "--keys",
            directory.appendingPathComponent("keys").path,
            "--run-claim", "straits-runs", "--namespace", "training", "-o", withKeys,
        ])
        #expect(keyed.status == 0, "\(keyed.output)")
        let text = try String(contentsOfFile: withKeys, encoding: .utf8)
        #expect(text.contains("kind: Secret") && text.contains("claimName: straits-runs"))
        #expect(text.contains("completionMode: Indexed") && text.contains("$(JOB_COMPLETION_INDEX)"))
        #expect(text.contains("runAsNonRoot: true") && text.contains("kind: NetworkPolicy"))

        let broken = directory.appendingPathComponent("broken.yaml").path
        try committed.replacingOccurrences(of: "backoffLimit", with: "backofLimit").write(
            toFile: broken, atomically: true, encoding: .utf8)

        let good = try runScript(
            "Deploy/k8s/validate.sh", ["Deploy/k8s/straits.yaml", withKeys], timeout: 300)
        #expect(good.status == 0, "\(good.output)")
        #expect(!good.output.contains("ERROR"), "\(good.output)")
        let bad = try runScript("Deploy/k8s/validate.sh", [broken], timeout: 120)
        #expect(bad.status != 0, "a Job with an unknown field passed: \(bad.output)")
    }

    @Test("a namespace that is not a DNS label is refused")
    func badNamespace() throws {
        let result = try Self.straits(["k8s", "--namespace", "Not_A_Label"])
        #expect(result.status != 0 && result.output.contains("DNS label"))
    }
}
