import ArgumentParser
import Config
import Foundation
import Services

struct KubernetesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "k8s",
        abstract: "Render Kubernetes manifests that run a topology's cluster and a job.",
        discussion: """
            One YAML stream: a ConfigMap with the topology and job, the coordinator as a Job behind \
            a Service, one gateway Job per region, each region's workers as an Indexed Job (the \
            completion index is the host), a NetworkPolicy that admits only the cluster's own pods, \
            non-root security contexts and resource requests; with --keys, a Secret holding the \
            directory's files. Apply with kubectl apply -f; the image is built from Deploy/k8s/Dockerfile.
            """)

    @Option(name: .customLong("topology"), help: ArgumentHelp("Topology YAML.", valueName: "file"))
    var topologyPath = "Deploy/topologies/default.yaml"

    @Option(name: .customLong("job"), help: ArgumentHelp("Job YAML.", valueName: "file"))
    var jobPath = "Deploy/jobs/default.yaml"

    @Option(help: ArgumentHelp("Container image with the Straits executables.", valueName: "image"))
    var image = "straits:latest"

    @Option(help: ArgumentHelp("Namespace of every object.", valueName: "name"))
    var namespace = "straits"

    @Option(help: ArgumentHelp("The coordinator's control port.", valueName: "port"))
    var port = 5555

    @Option(
        name: .customLong("run-claim"),
        help: ArgumentHelp(
            "PersistentVolumeClaim for the coordinator's run directory (default: an emptyDir, lost with the pod).",
            valueName: "name"))
    var runClaim: String?

    @Option(help: ArgumentHelp("Directory whose files go in the keys Secret.", valueName: "dir"))
    var keys: String?

    @Option(name: [.short, .long], help: ArgumentHelp("Write here instead of standard output.", valueName: "file"))
    var output: String?

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port expects 1…65535, got \(port)") }
        guard KubernetesManifests.dnsLabel(namespace) == namespace else {
            throw ValidationError("--namespace must be a DNS label (lower case letters, digits, -), got \(namespace)")
        }
    }

    func run() throws {
        let topology = try ClusterTopology.load(path: topologyPath)
        _ = try JobSpec.load(path: jobPath)
        var options = KubernetesManifests.Options()
        options.image = image
        options.namespace = namespace
        options.port = port
        options.runClaim = runClaim
        if let keys {
            for name in try FileManager.default.contentsOfDirectory(atPath: keys).sorted() where !name.hasPrefix(".") {
                options.keys[name] = try Data(contentsOf: URL(fileURLWithPath: keys + "/" + name))
            }
        }
        let text = try KubernetesManifests(
            topology: topology, topologyText: try String(contentsOfFile: topologyPath, encoding: .utf8),
            jobText: try String(contentsOfFile: jobPath, encoding: .utf8), options: options
        ).render()
        if let output {
            try text.write(toFile: output, atomically: true, encoding: .utf8)
        } else {
            print(text, terminator: "")
        }
    }
}
