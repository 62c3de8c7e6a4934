import Config

/// One input: a file's text, read as a topology and as a job. Either loads or says what is wrong;
/// neither may crash, hang or allocate without bound.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? ClusterTopology.parse(text, file: "fuzz.yaml")
    _ = try? JobSpec.parse(text, file: "fuzz.yaml")
    return 0
}

/// The entry point SwiftPM gives an executable (`fuzz_config_main`), handing over to libFuzzer's
/// driver, which runs `fuzzConfig` on every input.
@_cdecl("fuzz_config_main")
public func fuzzConfigMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return runFuzzerDriver(&count, &arguments, fuzzConfig)
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32
