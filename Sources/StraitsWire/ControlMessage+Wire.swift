import Foundation

extension ControlMessage {
    /// Control protocol version; a peer of another version is refused at join.
    public static let protocolVersion: UInt16 = 1
    /// "STRC", little-endian.
    public static let magic: UInt32 = 0x4352_5453
    /// The largest body Straits sends or reads (1 MiB); anything larger is refused unread.
    public static let maximumBodyBytes = 1 << 20

    /// Why a control message was refused.
    public enum DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
        case frameCount(Int)
        case envelopeSize(Int)
        case badMagic(UInt32)
        case versionMismatch(peer: UInt16, ours: UInt16)
        case unknownType(UInt16)
        case oversized(Int)
        case badBody(type: String, detail: String)

        public var description: String {
            switch self {
            case .frameCount(let count): "control message with \(count) frames, expected 2 (envelope, body)"
            case .envelopeSize(let size): "control envelope of \(size) bytes, expected 8"
            case .badMagic(let magic):
                "control envelope with magic 0x\(String(magic, radix: 16)), expected 0x\(String(ControlMessage.magic, radix: 16)) (STRC)"
            case .versionMismatch(let peer, let ours):
                "peer speaks control protocol version \(peer), this build speaks version \(ours)"
            case .unknownType(let type): "unknown control message type \(type)"
            case .oversized(let size):
                "control body of \(size) bytes exceeds the \(ControlMessage.maximumBodyBytes)-byte limit"
            case .badBody(let type, let detail): "malformed \(type) body: \(detail)"
            }
        }
    }

    /// The envelope frame for `kind` at `version`.
    public static func envelope(_ kind: Kind, version: UInt16 = protocolVersion) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 8)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: version.littleEndian, toByteOffset: 4, as: UInt16.self)
            raw.storeBytes(of: kind.rawValue.littleEndian, toByteOffset: 6, as: UInt16.self)
        }
        return bytes
    }

    /// The two frames (envelope, body) of this message.
    public func encoded(version: UInt16 = protocolVersion) -> [[UInt8]] {
        [Self.envelope(kind, version: version), body()]
    }

    /// The JSON body: keys sorted, snake_case, no spaces.
    public func body() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data: Data
        do {
            switch self {
            case .join(let body): data = try encoder.encode(body)
            case .refuse(let body): data = try encoder.encode(body)
            case .plan(let body): data = try encoder.encode(body)
            case .probe(let body): data = try encoder.encode(body)
            case .probed(let body): data = try encoder.encode(body)
            case .step(let body): data = try encoder.encode(body)
            case .stepDone(let body): data = try encoder.encode(body)
            case .heartbeat(let body): data = try encoder.encode(body)
            case .stop(let body): data = try encoder.encode(body)
            case .modelPart(let body): data = try encoder.encode(body)
            case .clock(let body): data = try encoder.encode(body)
            case .fault(let body): data = try encoder.encode(body)
            case .kill(let body): data = try encoder.encode(body)
            case .inject(let body): data = try encoder.encode(body)
            }
        } catch {
            preconditionFailure("control message \(kind.name) does not encode: \(error)")
        }
        return Array(data)
    }

    /// Reads the envelope: (version, type code).
    public static func decodeEnvelope(_ frame: [UInt8]) throws(DecodeError) -> (version: UInt16, type: UInt16) {
        guard frame.count == 8 else { throw .envelopeSize(frame.count) }
        let (magic, version, type) = frame.withUnsafeBytes { raw in
            (
                UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self)),
                UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt16.self)),
                UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
            )
        }
        guard magic == Self.magic else { throw .badMagic(magic) }
        return (version, type)
    }

    /// Decodes a message from its frames (envelope, body), refusing anything that is not exactly
    /// a message of this protocol version. A `refuse` of any version decodes, so that a peer
    /// refused for its version can still read why.
    public init(frames: [[UInt8]]) throws(DecodeError) {
        guard frames.count == 2 else { throw .frameCount(frames.count) }
        let (version, type) = try Self.decodeEnvelope(frames[0])
        guard let kind = Kind(rawValue: type) else {
            if version != Self.protocolVersion { throw .versionMismatch(peer: version, ours: Self.protocolVersion) }
            throw .unknownType(type)
        }
        guard version == Self.protocolVersion || kind == .refuse else {
            throw .versionMismatch(peer: version, ours: Self.protocolVersion)
        }
        guard frames[1].count <= Self.maximumBodyBytes else { throw .oversized(frames[1].count) }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let data = Data(frames[1])
        do {
            switch kind {
            case .join: self = .join(try decoder.decode(Join.self, from: data))
            case .refuse: self = .refuse(try decoder.decode(Refuse.self, from: data))
            case .plan: self = .plan(try decoder.decode(Plan.self, from: data))
            case .probe: self = .probe(try decoder.decode(Probe.self, from: data))
            case .probed: self = .probed(try decoder.decode(Probed.self, from: data))
            case .step: self = .step(try decoder.decode(Step.self, from: data))
            case .stepDone: self = .stepDone(try decoder.decode(StepDone.self, from: data))
            case .heartbeat: self = .heartbeat(try decoder.decode(Heartbeat.self, from: data))
            case .stop: self = .stop(try decoder.decode(Stop.self, from: data))
            case .modelPart: self = .modelPart(try decoder.decode(ModelPart.self, from: data))
            case .clock: self = .clock(try decoder.decode(Clock.self, from: data))
            case .fault: self = .fault(try decoder.decode(Fault.self, from: data))
            case .kill: self = .kill(try decoder.decode(Kill.self, from: data))
            case .inject: self = .inject(try decoder.decode(Inject.self, from: data))
            }
        } catch {
            throw .badBody(type: kind.name, detail: Self.describe(error))
        }
        if let problem = outOfBounds { throw .badBody(type: kind.name, detail: problem) }
    }

    /// A decoding error in words: which field, and what was wrong.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            let names = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return names.isEmpty ? "body" : names.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context)): missing field \(key.stringValue)"
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(type)"
        case .valueNotFound(let type, let context): return "\(path(context)): expected \(type), got null"
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

extension ControlMessage {
    /// A plan's frames for each member, encoded once: the members' plans differ only in `you`,
    /// the body's last key (keys are sorted), so the body is encoded once and each member's ends
    /// in its own `"you":N}`. A thousand members then cost one encoding, not a thousand
    /// encodings of a thousand workers each. Equal, byte for byte, to encoding each plan.
    public struct PlanFrames: Sendable {
        private let envelope: [UInt8]
        private let prefix: [UInt8]?
        private let plan: Plan

        public init(_ plan: Plan) {
            self.plan = plan
            envelope = ControlMessage.envelope(.plan)
            var probe = plan
            probe.you = 0
            let body = ControlMessage.plan(probe).body()
            let tail = Array(#","you":0}"#.utf8)
            prefix = body.count > tail.count && Array(body.suffix(tail.count)) == tail ? Array(body.dropLast(8)) : nil
        }

        /// The frames (envelope, body) of the plan whose `you` is `you`.
        public func frames(you: Int) -> [[UInt8]] {
            guard let prefix else {
                var plan = plan
                plan.you = you
                return ControlMessage.plan(plan).encoded()
            }
            return [envelope, prefix + Array("\"you\":\(you)}".utf8)]
        }
    }
}
