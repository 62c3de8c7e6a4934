// swift-tools-version: 6.0
import PackageDescription

// libFuzzer targets for the decoders that read what peers send and what users write: control
// messages, data-frame headers, topology and job files. Deploy/fuzz.sh builds them with
// -sanitize=fuzzer (which also instruments the Straits modules they use) and runs each.
let fuzzer: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "StraitsFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Straits", path: "..")
    ],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(
            name: "fuzz-control", dependencies: ["FuzzSupport", .product(name: "StraitsWire", package: "Straits")],
            swiftSettings: fuzzer),
        .executableTarget(
            name: "fuzz-data-frame", dependencies: ["FuzzSupport", .product(name: "StraitsWire", package: "Straits")],
            swiftSettings: fuzzer),
        .executableTarget(
            name: "fuzz-config", dependencies: ["FuzzSupport", .product(name: "Config", package: "Straits")],
            swiftSettings: fuzzer),
    ],
    swiftLanguageModes: [.v6]
)
