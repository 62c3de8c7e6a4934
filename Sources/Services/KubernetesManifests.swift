import Config
import Foundation
import StraitsWire
import Yams

/// Kubernetes manifests for a cluster (`straits k8s`): the topology and job in a ConfigMap, the
/// coordinator as a Job behind a Service, one gateway Job per region, each region's workers as an
/// Indexed Job (the completion index is the host), a NetworkPolicy that admits only the
/// cluster's own pods, non-root security contexts and resource requests. Keys, where given, go in
/// a Secret mounted read-only into every pod and every process uses CURVE with them; without
/// keys the processes run with --insecure.
public struct KubernetesManifests {
    public struct Options: Sendable {
        public var image = "straits:latest"
        public var namespace = "straits"
        public var port = 5555
        /// A PersistentVolumeClaim for the coordinator's run directory (nil: an emptyDir).
        public var runClaim: String?
        /// Files for the keys Secret (name → contents), mounted at /etc/straits/keys.
        public var keys: [String: Data] = [:]
        public init() {}
    }

    let topology: ClusterTopology
    let topologyText: String
    let jobText: String
    let options: Options

    public init(topology: ClusterTopology, topologyText: String, jobText: String, options: Options) {
        self.topology = topology
        self.topologyText = topologyText
        self.jobText = jobText
        self.options = options
    }

    /// A name Kubernetes takes (DNS-1123 label): lower case letters, digits and `-`.
    public static func dnsLabel(_ text: String) -> String {
        let mapped = text.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" }
        let trimmed = String(mapped).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return String((trimmed.isEmpty ? "x" : trimmed).prefix(40))
    }

    var instance: String { Self.dnsLabel(topology.name) }
    var coordinatorService: String { "straits-\(instance)-coordinator" }

    func labels(_ component: String, region: String? = nil) -> [String: Any] {
        var labels: [String: Any] = [
            "app.kubernetes.io/name": "straits", "app.kubernetes.io/instance": instance,
            "app.kubernetes.io/component": component,
        ]
        if let region { labels["straits.dev/region"] = Self.dnsLabel(region) }
        return labels
    }

    func metadata(_ name: String, _ labels: [String: Any]) -> [String: Any] {
        ["name": name, "namespace": options.namespace, "labels": labels]
    }

    /// Every manifest, as one multi-document YAML stream.
    public func render() throws -> String {
        var documents: [[String: Any]] = [configMap()]
        if !options.keys.isEmpty { documents.append(secret()) }
        documents += [networkPolicy(), service(), coordinator()]
        if topology.regions.count > 1 { documents += topology.regions.map(gateway) }
        documents += topology.regions.map(workers)
        return try documents.map { try Yams.dump(object: $0, width: -1, sortKeys: true) }.joined(separator: "---\n")
    }

    func configMap() -> [String: Any] {
        [
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": metadata("straits-\(instance)-config", labels("config")),
            "data": ["topology.yaml": topologyText, "job.yaml": jobText],
        ]
    }

    func secret() -> [String: Any] {
        [
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": metadata("straits-\(instance)-keys", labels("keys")),
            "data": options.keys.mapValues { $0.base64EncodedString() },
        ]
    }

    /// Only the cluster's own pods may reach its pods; its pods may reach only each other and DNS.
    func networkPolicy() -> [String: Any] {
        let own: [String: Any] = [
            "podSelector": [
                "matchLabels": ["app.kubernetes.io/name": "straits", "app.kubernetes.io/instance": instance]
            ]
        ]
        return [
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": metadata("straits-\(instance)", labels("network-policy")),
            "spec": [
                "podSelector": own["podSelector"]!,
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [["from": [own]]],
                "egress": [
                    ["to": [own]],
                    ["ports": [["protocol": "UDP", "port": 53], ["protocol": "TCP", "port": 53]]],
                ],
            ],
        ]
    }

    func service() -> [String: Any] {
        [
            "apiVersion": "v1", "kind": "Service",
            "metadata": metadata(coordinatorService, labels("coordinator")),
            "spec": [
                "selector": labels("coordinator"),
                "ports": [["name": "control", "protocol": "TCP", "port": options.port, "targetPort": options.port]],
            ],
        ]
    }

    var coordinatorEndpoint: String { "tcp://\(coordinatorService):\(options.port)" }

    func coordinator() -> [String: Any] {
        let run: [String: Any] =
            options.runClaim.map { ["name": "run", "persistentVolumeClaim": ["claimName": $0]] }
            ?? ["name": "run", "emptyDir": [String: Any]()]
        return job(
            name: "straits-\(instance)-coordinator", labels: labels("coordinator"), completions: nil,
            container: container(
                "coordinator", command: "straits-coordinator",
                arguments: [
                    "--topology", "/etc/straits/topology.yaml", "--job", "/etc/straits/job.yaml",
                    "--run-dir", "/var/lib/straits/run", "--bind", "tcp://0.0.0.0:\(options.port)",
                    "--advertise-address", coordinatorService,
                ],
                cpu: "500m", memory: "512Mi", ports: [options.port],
                extraMounts: [["name": "run", "mountPath": "/var/lib/straits"]]),
            extraVolumes: [run])
    }

    func gateway(_ region: ClusterTopology.Region) -> [String: Any] {
        job(
            name: "straits-\(instance)-gateway-\(Self.dnsLabel(region.name))",
            labels: labels("gateway", region: region.name), completions: nil,
            container: container(
                "gateway", command: "straits-gateway",
                arguments: [
                    "--coordinator", coordinatorEndpoint, "--region", region.name,
                    "--topology", "/etc/straits/topology.yaml",
                    "--bind-address", "0.0.0.0", "--advertise-address", "$(POD_IP)",
                ],
                cpu: "1", memory: "1Gi", ports: []),
            extraVolumes: [])
    }

    func workers(_ region: ClusterTopology.Region) -> [String: Any] {
        job(
            name: "straits-\(instance)-workers-\(Self.dnsLabel(region.name))",
            labels: labels("worker", region: region.name), completions: region.hosts,
            container: container(
                "worker", command: "straits-worker",
                arguments: [
                    "--coordinator", coordinatorEndpoint, "--region", region.name,
                    "--host", "$(JOB_COMPLETION_INDEX)", "--devices", String(region.devicesPerHost),
                    "--bind-address", "0.0.0.0", "--advertise-address", "$(POD_IP)",
                ],
                cpu: String(region.devicesPerHost), memory: "\(1 + region.devicesPerHost)Gi", ports: []),
            extraVolumes: [])
    }

    func container(
        _ name: String, command: String, arguments: [String], cpu: String, memory: String, ports: [Int],
        extraMounts: [[String: Any]] = []
    ) -> [String: Any] {
        // CURVE with the keys in the Secret; without keys, plaintext must be asked for, since
        // every pod binds where the others reach it.
        let security = options.keys.isEmpty ? ["--insecure"] : ["--keys", "/etc/straits-keys"]
        // One job id for every pod, from what the job is, so that a render is repeatable.
        let identity = [
            "--job-id", "\(instance)-\(String(CRC32C.checksum(Array((topologyText + jobText).utf8)), radix: 16))",
        ]
        var container: [String: Any] = [
            "name": name, "image": options.image, "command": [command], "args": arguments + identity + security,
            "env": [["name": "POD_IP", "valueFrom": ["fieldRef": ["fieldPath": "status.podIP"]]]],
            "resources": ["requests": ["cpu": cpu, "memory": memory], "limits": ["memory": memory]],
            "securityContext": [
                "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                "capabilities": ["drop": ["ALL"]],
            ],
            "volumeMounts": [
                ["name": "config", "mountPath": "/etc/straits", "readOnly": true],
                ["name": "tmp", "mountPath": "/tmp"],
            ]
                + (options.keys.isEmpty ? [] : [["name": "keys", "mountPath": "/etc/straits-keys", "readOnly": true]])
                + extraMounts,
        ]
        if !ports.isEmpty {
            container["ports"] = ports.map { ["name": "control", "containerPort": $0, "protocol": "TCP"] }
        }
        return container
    }

    /// A Job of one pod, or an Indexed Job of `completions` pods all running at once; a failed
    /// pod is not retried (the coordinator decides what a failure means).
    func job(
        name: String, labels: [String: Any], completions: Int?, container: [String: Any],
        extraVolumes: [[String: Any]]
    ) -> [String: Any] {
        var volumes: [[String: Any]] = [
            ["name": "config", "configMap": ["name": "straits-\(instance)-config"]],
            ["name": "tmp", "emptyDir": [String: Any]()],
        ]
        if !options.keys.isEmpty {
            volumes.append(["name": "keys", "secret": ["secretName": "straits-\(instance)-keys"]])
        }
        var spec: [String: Any] = [
            "backoffLimit": 0,
            "template": [
                "metadata": ["labels": labels],
                "spec": [
                    "restartPolicy": "Never",
                    "securityContext": [
                        "runAsNonRoot": true, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                        "seccompProfile": ["type": "RuntimeDefault"],
                    ],
                    "containers": [container],
                    "volumes": volumes + extraVolumes,
                ],
            ],
        ]
        if let completions {
            spec["completionMode"] = "Indexed"
            spec["completions"] = completions
            spec["parallelism"] = completions
        }
        return ["apiVersion": "batch/v1", "kind": "Job", "metadata": metadata(name, labels), "spec": spec]
    }
}
