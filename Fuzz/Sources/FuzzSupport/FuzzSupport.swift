/// What a fuzz target runs on each input (libFuzzer's `LLVMFuzzerTestOneInput`).
public typealias FuzzTarget = @convention(c) (UnsafePointer<UInt8>, Int) -> Int32

/// Hands a fuzz target's process over to libFuzzer's driver. SwiftPM names an executable's entry
/// point `<module>_main`; each target defines it and calls this, so that libFuzzer's flags and
/// corpus arguments work as with any libFuzzer binary.
public func runFuzzer(
    _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, _ target: FuzzTarget
) -> Int32 {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return runFuzzerDriver(&count, &arguments, target)
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: FuzzTarget
) -> Int32
