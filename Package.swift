// swift-tools-version: 6.0
import PackageDescription

/// Release builds of the hot paths target the x86-64-v3 level (AVX2, FMA), like the C reference
/// it is measured against (`-O3 -march=native` on the machines Straits runs on).
let strictConcurrency: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Straits",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "NUMA", targets: ["NUMA"]),
        .library(name: "Collectives", targets: ["Collectives"]),
    ],
    targets: [
        // System libraries. Debian's libzmq.pc emits an `-isystem` flag that SwiftPM rejects, and
        // both headers live on the default include path, so the module maps name no pkg-config.
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ"),
        .systemLibrary(name: "CNUMA", path: "Sources/CNUMA"),
        .target(name: "CStraitsShims", path: "Sources/CStraitsShims"),

        .target(
            name: "ZeroMQ",
            dependencies: ["CZeroMQ", "CStraitsShims"],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "NUMA",
            dependencies: ["CNUMA", "CStraitsShims"],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "Collectives",
            dependencies: ["NUMA"],
            swiftSettings: strictConcurrency
        ),

        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ", "CZeroMQ"], swiftSettings: strictConcurrency),
        .testTarget(name: "NUMATests", dependencies: ["NUMA"], swiftSettings: strictConcurrency),
        .testTarget(name: "CollectivesTests", dependencies: ["Collectives", "NUMA"], swiftSettings: strictConcurrency),
    ],
    swiftLanguageModes: [.v6]
)
