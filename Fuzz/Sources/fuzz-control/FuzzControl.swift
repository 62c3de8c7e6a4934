import FuzzSupport
import StraitsWire

/// One input: the first 8 bytes are the envelope, the rest the body (the two frames a control
/// message has). Whatever decodes must be within bounds and re-encode to a message that decodes
/// to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControl(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let frames = [Array(bytes.prefix(8)), Array(bytes.dropFirst(min(8, bytes.count)))]
    guard let message = try? ControlMessage(frames: frames) else { return 0 }
    precondition(message.outOfBounds == nil, "a decoded message is out of bounds: \(message.outOfBounds!)")
    let again = try? ControlMessage(frames: message.encoded())
    precondition(again == message, "\(message.kind) does not survive re-encoding")
    return 0
}

/// The entry point SwiftPM gives this executable: libFuzzer's driver, running `fuzzControl`.
@_cdecl("fuzz_control_main")
public func fuzzControlMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc, argv, fuzzControl)
}
