import Config
import FuzzSupport

/// One input: a file's text, read as a topology, a job and a scenario. Each loads or says what is wrong;
/// neither may crash, hang or allocate without bound.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? ClusterTopology.parse(text, file: "fuzz.yaml")
    _ = try? JobSpec.parse(text, file: "fuzz.yaml")
    _ = try? Scenario.parse(text, file: "fuzz.yaml")
    return 0
}

/// The entry point SwiftPM gives this executable: libFuzzer's driver, running `fuzzConfig`.
@_cdecl("fuzz_config_main")
public func fuzzConfigMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc, argv, fuzzConfig)
}
