// swift-tools-version: 6.0
import PackageDescription

// Straits' micro-benchmarks, each measured beside a C reference built in the same run
// (Benchmarks/run.sh builds the references with gcc -O3 -march=native and runs everything).
let package = Package(
    name: "StraitsBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Straits", path: "..")
    ],
    targets: [
        .executableTarget(
            name: "straits-microbench",
            dependencies: [
                .product(name: "ZeroMQ", package: "Straits"),
                .product(name: "Collectives", package: "Straits"),
            ]
        ),
        .executableTarget(
            name: "straits-control-load",
            dependencies: [
                .product(name: "ZeroMQ", package: "Straits"),
                .product(name: "StraitsWire", package: "Straits"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
