import Foundation

/// The messages between `straits bench allreduce` and the worker processes it starts
/// (`Protocols/bench-launcher.md`): an 8-byte envelope frame (magic `STRB`, protocol version,
/// message type, little-endian, as the control protocol's) and a JSON body, keys sorted.
///
/// A run: each worker says `hello` with its devices' endpoints; the launcher answers every
/// worker with the `table` of all ranks' endpoints; worker 0 reports what it `probed` of the link
/// to worker 1; the launcher sends every worker the link's `params`; the ranks time the
/// candidate algorithms and worker 0 reports how they `calibrated`; each worker reports a
/// `result` per message size; the launcher says `bye` (or `abort`, with the reason).
public enum BenchMessage: Equatable, Sendable {
    case hello(Hello)
    case table(Table)
    case probed(Link)
    case params(Link)
    case result(Result)
    case bye
    case abort(Abort)
    case calibrated(Calibrated)

    /// Launcher protocol version; a message of another version is refused with both named.
    public static let protocolVersion: UInt16 = 2
    /// "STRB", little-endian.
    public static let magic: UInt32 = 0x4252_5453
    /// The largest body read (a table of 4096 ranks' endpoints fits many times over).
    public static let maximumBodyBytes = 1 << 20

    public enum Kind: UInt16, Sendable, CaseIterable {
        case hello = 1
        case table = 2
        case probed = 3
        case params = 4
        case result = 5
        case bye = 6
        case abort = 7
        case calibrated = 8
    }

    public struct Hello: Codable, Equatable, Sendable {
        public var worker: Int
        /// Each device's data endpoint, in device order.
        public var endpoints: [String]
        public init(worker: Int, endpoints: [String]) {
            self.worker = worker
            self.endpoints = endpoints
        }
    }

    public struct Table: Codable, Equatable, Sendable {
        /// Every rank's data endpoint, in rank order.
        public var endpoints: [String]
        public init(endpoints: [String]) { self.endpoints = endpoints }
    }

    /// α and β of the link between workers.
    public struct Link: Codable, Equatable, Sendable {
        public var alphaS: Double
        public var betaSPerByte: Double
        public init(alphaS: Double, betaSPerByte: Double) {
            self.alphaS = alphaS
            self.betaSPerByte = betaSPerByte
        }

        /// Whether both are in range: finite, α ≥ 0, β > 0.
        public var isValid: Bool { alphaS.isFinite && alphaS >= 0 && betaSPerByte.isFinite && betaSPerByte > 0 }
    }

    /// What the ranks' calibration measured, one line per candidate algorithm, for the header.
    public struct Calibrated: Codable, Equatable, Sendable {
        public var lines: [String]
        public init(lines: [String]) { self.lines = lines }

        /// At most 64 lines of at most 1,000 characters each.
        public var isValid: Bool { lines.count <= 64 && lines.allSatisfy { $0.utf8.count <= 1000 } }
    }

    /// One message size, from one worker: the slowest of its devices at each timed iteration.
    public struct Result: Codable, Equatable, Sendable {
        public var sizeBytes: Int
        public var wrong: Int
        public var plan: String
        public var seconds: [Double]
        public init(sizeBytes: Int, wrong: Int, plan: String, seconds: [Double]) {
            self.sizeBytes = sizeBytes
            self.wrong = wrong
            self.plan = plan
            self.seconds = seconds
        }
    }

    public struct Abort: Codable, Equatable, Sendable {
        public var reason: String
        public init(reason: String) { self.reason = reason }
    }

    public var kind: Kind {
        switch self {
        case .hello: .hello
        case .table: .table
        case .probed: .probed
        case .params: .params
        case .result: .result
        case .bye: .bye
        case .abort: .abort
        case .calibrated: .calibrated
        }
    }

    /// Why a message was refused.
    public enum DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
        case frameCount(Int)
        case envelope(String)
        case versionMismatch(peer: UInt16, ours: UInt16)
        case oversized(Int)
        case badBody(kind: String, detail: String)

        public var description: String {
            switch self {
            case .frameCount(let count): "bench message with \(count) frames, expected 2 (envelope, body)"
            case .envelope(let detail): "bench envelope: \(detail)"
            case .versionMismatch(let peer, let ours):
                "peer speaks bench launcher protocol version \(peer), this build speaks version \(ours)"
            case .oversized(let size):
                "bench body of \(size) bytes exceeds the \(BenchMessage.maximumBodyBytes)-byte limit"
            case .badBody(let kind, let detail): "malformed \(kind) body: \(detail)"
            }
        }
    }

    /// The two frames (envelope, body).
    public func encoded(version: UInt16 = protocolVersion) -> [[UInt8]] {
        var envelope = [UInt8](repeating: 0, count: 8)
        envelope.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: version.littleEndian, toByteOffset: 4, as: UInt16.self)
            raw.storeBytes(of: kind.rawValue.littleEndian, toByteOffset: 6, as: UInt16.self)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let body: Data?
        switch self {
        case .hello(let value): body = try? encoder.encode(value)
        case .table(let value): body = try? encoder.encode(value)
        case .probed(let value), .params(let value): body = try? encoder.encode(value)
        case .result(let value): body = try? encoder.encode(value)
        case .bye: body = Data("{}".utf8)
        case .abort(let value): body = try? encoder.encode(value)
        case .calibrated(let value): body = try? encoder.encode(value)
        }
        return [envelope, [UInt8](body ?? Data("{}".utf8))]
    }

    /// Decodes the frames of a message; every field is checked by its type.
    public init(frames: [[UInt8]]) throws(DecodeError) {
        guard frames.count == 2 else { throw .frameCount(frames.count) }
        let envelope = frames[0]
        guard envelope.count == 8 else { throw .envelope("\(envelope.count) bytes, expected 8") }
        let magic =
            UInt32(envelope[0]) | UInt32(envelope[1]) << 8 | UInt32(envelope[2]) << 16 | UInt32(envelope[3]) << 24
        guard magic == Self.magic else { throw .envelope("magic 0x\(String(magic, radix: 16)), expected STRB") }
        let version = UInt16(envelope[4]) | UInt16(envelope[5]) << 8
        guard version == Self.protocolVersion else { throw .versionMismatch(peer: version, ours: Self.protocolVersion) }
        let type = UInt16(envelope[6]) | UInt16(envelope[7]) << 8
        guard let kind = Kind(rawValue: type) else { throw .envelope("unknown message type \(type)") }
        guard frames[1].count <= Self.maximumBodyBytes else { throw .oversized(frames[1].count) }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let body = Data(frames[1])
        do {
            switch kind {
            case .hello: self = .hello(try decoder.decode(Hello.self, from: body))
            case .table: self = .table(try decoder.decode(Table.self, from: body))
            case .probed: self = .probed(try decoder.decode(Link.self, from: body))
            case .params: self = .params(try decoder.decode(Link.self, from: body))
            case .result: self = .result(try decoder.decode(Result.self, from: body))
            case .bye: self = .bye
            case .abort: self = .abort(try decoder.decode(Abort.self, from: body))
            case .calibrated: self = .calibrated(try decoder.decode(Calibrated.self, from: body))
            }
        } catch {
            throw .badBody(kind: "\(kind)", detail: "\(error)")
        }
    }
}
