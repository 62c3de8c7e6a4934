// swift-tools-version: 6.0
import Foundation
import PackageDescription

let strictConcurrency: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

/// The reduction kernels target x86-64-v3 (AVX2, FMA), the instructions a C `-O3 -march=native`
/// loop gets on the machines Straits runs on. `STRAITS_PORTABLE=1` builds for baseline x86-64.
#if arch(x86_64)
    let vectorISA: [SwiftSetting] =
        ProcessInfo.processInfo.environment["STRAITS_PORTABLE"] == nil
        ? [.unsafeFlags(["-Xcc", "-march=x86-64-v3"])]
        : []
#else
    let vectorISA: [SwiftSetting] = []
#endif

let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

/// The cluster's three processes: each a screen of command-line declaration over Services.
let daemons: [Target] = ["straits-coordinator", "straits-worker", "straits-gateway"].map { name in
    .executableTarget(
        name: name, dependencies: ["Services", argumentParser, logging], swiftSettings: strictConcurrency)
}

let package = Package(
    name: "Straits",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "StraitsWire", targets: ["StraitsWire"]),
        .library(name: "Config", targets: ["Config"]),
        .library(name: "NUMA", targets: ["NUMA"]),
        .library(name: "Collectives", targets: ["Collectives"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Services", targets: ["Services"]),
        .executable(name: "straits", targets: ["straits"]),
        .executable(name: "straits-coordinator", targets: ["straits-coordinator"]),
        .executable(name: "straits-worker", targets: ["straits-worker"]),
        .executable(name: "straits-gateway", targets: ["straits-gateway"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // System libraries. Debian's libzmq.pc emits an `-isystem` flag that SwiftPM rejects, and
        // both headers live on the default include path, so the module maps name no pkg-config.
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ"),
        .systemLibrary(name: "CNUMA", path: "Sources/CNUMA"),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
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
            dependencies: ["StraitsWire"],
            swiftSettings: strictConcurrency + vectorISA
        ),

        .target(name: "StraitsWire", dependencies: ["CStraitsShims"], swiftSettings: strictConcurrency),
        .target(name: "Config", dependencies: ["StraitsWire", "Yams"], swiftSettings: strictConcurrency),
        .target(
            name: "Emulation", dependencies: ["Collectives", "Config", "StraitsWire"], swiftSettings: strictConcurrency),
        .target(
            name: "Telemetry",
            dependencies: ["Collectives", "Emulation", logging],
            swiftSettings: strictConcurrency
        ),
        // The I/O-free cores of the cluster's control logic: no ZeroMQ, no files, no clock.
        .target(name: "ClusterCore", dependencies: ["StraitsWire", "Config"], swiftSettings: strictConcurrency),
        .target(
            name: "Training",
            dependencies: ["COpenBLAS", "Config", "Emulation", "Telemetry"],
            swiftSettings: strictConcurrency + vectorISA
        ),
        // Sockets and the data plane: control links, ranks' data sockets, the schedule executor,
        // device groups in shared memory.
        .target(
            name: "Transport",
            dependencies: [
                "ZeroMQ", "NUMA", "Collectives", "StraitsWire", "Emulation", "CStraitsShims",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                logging,
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "Services",
            dependencies: [
                "ZeroMQ", "NUMA", "Collectives", "StraitsWire", "Config", "Telemetry", "Emulation", "Training",
                "ClusterCore",
                "Transport",
                "Yams",
                argumentParser,
                logging,
            ],
            swiftSettings: strictConcurrency
        ),
        .executableTarget(
            name: "straits",
            dependencies: [
                "Services", "Telemetry", "Training", "Config", "Transport", "Emulation",
                argumentParser,
            ],
            swiftSettings: strictConcurrency
        ),
    ] + daemons + [
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "straits", "straits-coordinator", "straits-worker", "straits-gateway", "ZeroMQ", "StraitsWire",
                "Training", "Config", "Telemetry",
            ], swiftSettings: strictConcurrency),
        .testTarget(
            name: "ServicesTests",
            dependencies: [
                "Services", "Collectives", "NUMA", "ZeroMQ", "StraitsWire", "Emulation", "Training", "Transport",
                "Config", "Telemetry",
            ], swiftSettings: strictConcurrency),
        .testTarget(
            name: "TransportTests",
            dependencies: ["Transport", "Collectives", "NUMA", "ZeroMQ", "StraitsWire", "Emulation"],
            swiftSettings: strictConcurrency),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ", "CZeroMQ"], swiftSettings: strictConcurrency),
        .testTarget(name: "ConfigTests", dependencies: ["Config"], swiftSettings: strictConcurrency),
        .testTarget(name: "StraitsWireTests", dependencies: ["StraitsWire"], swiftSettings: strictConcurrency),
        .testTarget(
            name: "ClusterCoreTests", dependencies: ["ClusterCore", "StraitsWire", "Config", "Telemetry"],
            swiftSettings: strictConcurrency),
        .testTarget(
            name: "EmulationTests", dependencies: ["Emulation", "Collectives", "StraitsWire"],
            swiftSettings: strictConcurrency),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry"], swiftSettings: strictConcurrency),
        .testTarget(
            name: "TrainingTests", dependencies: ["Training", "Config", "Collectives"], swiftSettings: strictConcurrency
        ),
        .testTarget(name: "NUMATests", dependencies: ["NUMA"], swiftSettings: strictConcurrency),
        .testTarget(
            name: "CollectivesTests", dependencies: ["Collectives", "NUMA", "StraitsWire"],
            swiftSettings: strictConcurrency),
    ],
    swiftLanguageModes: [.v6]
)
