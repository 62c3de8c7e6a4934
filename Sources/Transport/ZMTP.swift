/// ZMTP 3.x, the wire protocol of ZeroMQ over TCP (rfc.zeromq.org/spec/23), as far as a PUSH
/// or PULL socket with the NULL mechanism speaks it: the 64-byte greeting, the READY command
/// with the socket's type, and message frames. `StreamPlane` speaks it on a rank's own thread,
/// so a libzmq PULL socket takes its messages and a libzmq PUSH socket can send to it.
public enum ZMTP {
    /// Bits of a frame's flags byte.
    public enum Flag {
        public static let more: UInt8 = 1
        public static let long: UInt8 = 2
        public static let command: UInt8 = 4
    }

    /// The largest command a peer may send in the handshake (a READY with a few properties).
    public static let maximumCommandBytes = 4096

    /// Why a peer's greeting or handshake was refused.
    public struct ProtocolError: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// This side's greeting: signature (the padding as libzmq sends it), version 3.1, the NULL
    /// mechanism, not a server.
    public static let greeting: [UInt8] = {
        var bytes = [UInt8](repeating: 0, count: 64)
        bytes[0] = 0xFF
        bytes[8] = 0x01
        bytes[9] = 0x7F
        bytes[10] = 3
        bytes[11] = 1
        for (index, byte) in "NULL".utf8.enumerated() { bytes[12 + index] = byte }
        return bytes
    }()

    /// Checks a peer's 64-byte greeting: ZMTP 3 or later, NULL mechanism.
    public static func checkGreeting(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) {
        guard bytes.count == 64, bytes[0] == 0xFF, bytes[9] == 0x7F else {
            throw ProtocolError("not a ZMTP greeting (the signature is not 0xFF … 0x7F)")
        }
        guard bytes[10] >= 3 else {
            throw ProtocolError("ZMTP version \(bytes[10]).\(bytes[11]); 3 or later is needed")
        }
        let mechanism = Array(bytes[12..<32])
        guard mechanism == Array("NULL".utf8) + [UInt8](repeating: 0, count: 16) else {
            let name = String(decoding: mechanism.prefix { $0 != 0 }, as: UTF8.self)
            throw ProtocolError("security mechanism \"\(name)\"; this plane speaks NULL (CURVE goes through libzmq)")
        }
    }

    /// The READY command frame for a socket of `socketType` ("PUSH", "PULL").
    public static func ready(socketType: String) -> [UInt8] {
        var body: [UInt8] = [5] + Array("READY".utf8)
        let name = Array("Socket-Type".utf8)
        let value = Array(socketType.utf8)
        body += [UInt8(name.count)] + name
        body += withUnsafeBytes(of: UInt32(value.count).bigEndian, Array.init) + value
        return frameHeader(flags: Flag.command, size: body.count) + body
    }

    /// A frame's flags and size: one size byte up to 255, else the long form.
    public static func frameHeader(flags: UInt8, size: Int) -> [UInt8] {
        if size <= 255 { return [flags, UInt8(size)] }
        return [flags | Flag.long] + withUnsafeBytes(of: UInt64(size).bigEndian, Array.init)
    }

    /// The properties of a READY command's body (after the flags and size), checked: the name
    /// READY, and each property's lengths within the body.
    public static func readyProperties(_ body: UnsafeRawBufferPointer) throws(ProtocolError) -> [String: [UInt8]] {
        guard body.count >= 6, body[0] == 5, Array(body[1..<6]) == Array("READY".utf8) else {
            throw ProtocolError("the first command is not READY")
        }
        var properties: [String: [UInt8]] = [:]
        var index = 6
        while index < body.count {
            let nameLength = Int(body[index])
            guard nameLength > 0, index + 1 + nameLength + 4 <= body.count else {
                throw ProtocolError("a READY property whose name runs past the command")
            }
            let name = String(decoding: body[(index + 1)..<(index + 1 + nameLength)], as: UTF8.self)
            index += 1 + nameLength
            let valueLength = body[index..<(index + 4)].reduce(0) { $0 << 8 | Int($1) }
            index += 4
            guard valueLength <= body.count - index else {
                throw ProtocolError("READY property \(name) whose value runs past the command")
            }
            properties[name.lowercased()] = Array(body[index..<(index + valueLength)])
            index += valueLength
        }
        return properties
    }

    /// Checks a peer's READY: it names a socket type that may talk to `ours`.
    public static func checkReady(_ body: UnsafeRawBufferPointer, ours: String) throws(ProtocolError) {
        let properties = try readyProperties(body)
        guard let type = properties["socket-type"].map({ String(decoding: $0, as: UTF8.self) }) else {
            throw ProtocolError("READY without a Socket-Type")
        }
        let wanted = ours == "PUSH" ? "PULL" : "PUSH"
        guard type == wanted else { throw ProtocolError("a \(type) socket; a \(ours) socket talks to \(wanted)") }
    }
}
