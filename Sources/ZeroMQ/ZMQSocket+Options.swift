import CZeroMQ

extension ZMQSocket {
    /// How long closing the socket may wait to deliver queued messages (`ZMQ_LINGER`).
    public mutating func setLinger(_ linger: Duration) throws(ZMQError) {
        try setOption(ZMQ_LINGER, "ZMQ_LINGER", Int32(clamping: milliseconds(linger)))
    }

    /// The most messages queued for sending per peer before sends block (`ZMQ_SNDHWM`; 0: no limit).
    public mutating func setSendHighWaterMark(_ messages: Int) throws(ZMQError) {
        try setOption(ZMQ_SNDHWM, "ZMQ_SNDHWM", Int32(clamping: messages))
    }

    /// The most messages queued for receiving per peer (`ZMQ_RCVHWM`; 0: no limit).
    public mutating func setReceiveHighWaterMark(_ messages: Int) throws(ZMQError) {
        try setOption(ZMQ_RCVHWM, "ZMQ_RCVHWM", Int32(clamping: messages))
    }

    /// The kernel send buffer size in bytes (`ZMQ_SNDBUF`).
    public mutating func setSendBufferSize(_ bytes: Int) throws(ZMQError) {
        try setOption(ZMQ_SNDBUF, "ZMQ_SNDBUF", Int32(clamping: bytes))
    }

    /// The kernel receive buffer size in bytes (`ZMQ_RCVBUF`).
    public mutating func setReceiveBufferSize(_ bytes: Int) throws(ZMQError) {
        try setOption(ZMQ_RCVBUF, "ZMQ_RCVBUF", Int32(clamping: bytes))
    }

    /// The identity a ROUTER peer sees for this socket (`ZMQ_ROUTING_ID`; 1–255 bytes).
    public mutating func setRoutingID(_ id: [UInt8]) throws(ZMQError) {
        try setOption(ZMQ_ROUTING_ID, "ZMQ_ROUTING_ID", bytes: id)
    }

    /// Makes a ROUTER fail with `.hostUnreachable` instead of dropping a message to an unknown
    /// peer (`ZMQ_ROUTER_MANDATORY`).
    public mutating func setRouterMandatory(_ on: Bool) throws(ZMQError) {
        try setOption(ZMQ_ROUTER_MANDATORY, "ZMQ_ROUTER_MANDATORY", on ? 1 : 0)
    }

    /// Queues messages only to peers whose connection is complete (`ZMQ_IMMEDIATE`).
    public mutating func setImmediate(_ on: Bool) throws(ZMQError) {
        try setOption(ZMQ_IMMEDIATE, "ZMQ_IMMEDIATE", on ? 1 : 0)
    }

    /// ZMTP heartbeats: send a PING every `interval`; drop the connection when no traffic arrives
    /// within `timeout`; ask the peer to drop it after `ttl` of silence
    /// (`ZMQ_HEARTBEAT_IVL`, `ZMQ_HEARTBEAT_TIMEOUT`, `ZMQ_HEARTBEAT_TTL`).
    public mutating func setHeartbeat(interval: Duration, timeout: Duration, ttl: Duration? = nil) throws(ZMQError) {
        try setOption(ZMQ_HEARTBEAT_IVL, "ZMQ_HEARTBEAT_IVL", Int32(clamping: milliseconds(interval)))
        try setOption(ZMQ_HEARTBEAT_TIMEOUT, "ZMQ_HEARTBEAT_TIMEOUT", Int32(clamping: milliseconds(timeout)))
        if let ttl {
            try setOption(ZMQ_HEARTBEAT_TTL, "ZMQ_HEARTBEAT_TTL", Int32(clamping: milliseconds(ttl)))
        }
    }

    /// Makes this socket a CURVE server with its long-term secret key (Z85, 40 characters).
    /// Set before `bind`.
    public mutating func setCurveServer(secretKey: String) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER", 1)
        try setOption(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", bytes: Array(secretKey.utf8))
    }

    /// Makes this socket a CURVE client of the server whose public key is `serverKey`, with its
    /// own key pair (all Z85, 40 characters). Set before `connect`.
    public mutating func setCurveClient(serverKey: String, publicKey: String, secretKey: String) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY", bytes: Array(serverKey.utf8))
        try setOption(ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY", bytes: Array(publicKey.utf8))
        try setOption(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", bytes: Array(secretKey.utf8))
    }

    /// The largest message a peer may send, in bytes (`ZMQ_MAXMSGSIZE`; -1: no limit). libzmq
    /// drops the connection of a peer that sends more, so a hostile peer can't exhaust memory.
    public mutating func setMaximumMessageSize(_ bytes: Int) throws(ZMQError) {
        var value = Int64(bytes)
        _ = try zmqCall("zmq_setsockopt", "ZMQ_MAXMSGSIZE=\(bytes)") {
            zmq_setsockopt(handle, ZMQ_MAXMSGSIZE, &value, MemoryLayout<Int64>.size)
        }
    }

    /// The endpoint last bound, with the port libzmq chose for a `*` (`ZMQ_LAST_ENDPOINT`).
    public func lastEndpoint() throws(ZMQError) -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        _ = try zmqCall("zmq_getsockopt", "ZMQ_LAST_ENDPOINT") {
            zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size)
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An integer option's value, for options this type has no named accessor for.
    ///
    /// The corresponding C function is `zmq_getsockopt`.
    public func option(_ name: Int32) throws(ZMQError) -> Int32 {
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        _ = try zmqCall("zmq_getsockopt", "option \(name)") { zmq_getsockopt(handle, name, &value, &size) }
        return value
    }

    /// Sets an integer option.
    ///
    /// The corresponding C function is `zmq_setsockopt`.
    mutating func setOption(_ name: Int32, _ label: String, _ value: Int32) throws(ZMQError) {
        var value = value
        _ = try zmqCall("zmq_setsockopt", "\(label)=\(value)") {
            zmq_setsockopt(handle, name, &value, MemoryLayout<Int32>.size)
        }
    }

    /// Sets a byte-string option.
    mutating func setOption(_ name: Int32, _ label: String, bytes: [UInt8]) throws(ZMQError) {
        _ = try zmqCall("zmq_setsockopt", label) {
            bytes.withUnsafeBytes { zmq_setsockopt(handle, name, $0.baseAddress, $0.count) }
        }
    }
}

/// A CURVE key pair in Z85 text (40 characters each).
public struct ZMQCurveKeyPair: Sendable, Equatable {
    public var publicKey: String
    public var secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Generates a fresh key pair.
    ///
    /// The corresponding C function is `zmq_curve_keypair`.
    public static func generate() throws(ZMQError) -> ZMQCurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        _ = try zmqCall("zmq_curve_keypair") { zmq_curve_keypair(&publicKey, &secretKey) }
        func text(_ chars: [CChar]) -> String {
            String(decoding: chars.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return ZMQCurveKeyPair(publicKey: text(publicKey), secretKey: text(secretKey))
    }
}
