import Collectives
import Config
import StraitsWire

extension ClusterTopology.Link {
    /// The link as the gateways emulate it and the model simulates it.
    public var spec: LinkSpec {
        LinkSpec(
            bitsPerSecond: bitsPerSecond, latencySeconds: latencySeconds, jitterSeconds: jitterSeconds,
            framing: framing == .tcp ? .tcpEthernet : .none, burstBytes: burstBytes)
    }
}

extension LinkModel.Hop {
    /// A hop that costs `alpha + bytes · beta`, as measured between two processes.
    public init(_ cost: LinkCost) {
        self.init(
            alphaNanoseconds: Int64((cost.alphaSeconds * 1e9).rounded(.down)),
            nanosecondsPerByte: cost.betaSecondsPerByte * 1e9)
    }

    public init(_ parameters: ControlMessage.LinkParameters) {
        self.init(LinkCost(alphaSeconds: parameters.alphaS, betaSecondsPerByte: parameters.betaSPerByte))
    }
}
