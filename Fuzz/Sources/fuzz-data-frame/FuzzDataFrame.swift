import FuzzSupport
import StraitsWire

/// One input: a data-frame header (and whatever follows). Whatever decodes re-encodes to the
/// same 64 bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDataFrame(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    guard let header = try? DataFrameHeader(decoding: raw) else { return 0 }
    precondition(header.encoded == Array(raw), "a header does not re-encode to its bytes")
    return 0
}

/// The entry point SwiftPM gives this executable: libFuzzer's driver, running `fuzzDataFrame`.
@_cdecl("fuzz_data_frame_main")
public func fuzzDataFrameMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc, argv, fuzzDataFrame)
}
