import Emulation
import Topology

extension ClusterTopology.Link {
    /// The link as the gateways emulate it and the model simulates it.
    public var spec: LinkSpec {
        LinkSpec(bitsPerSecond: bitsPerSecond, latencySeconds: latencySeconds, jitterSeconds: jitterSeconds,
                 framing: framing == .tcp ? .tcpEthernet : .none)
    }
}
