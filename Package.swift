// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "PeerDist",
    products: [
        .library(name: "PeerDistHashing", targets: ["PeerDistHashing"]),
        .library(name: "PeerDist", targets: ["PeerDist"]),
        .executable(name: "peerdist", targets: ["peerdist-cli"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // System libraries, found through pkg-config; `providers` names the Debian packages.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // Linux system calls the Glibc module leaves out.
        .target(name: "CSystemCalls"),

        .target(
            name: "PeerDistHashing",
            dependencies: [
                "CLibCrypto",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // Messages, codecs, the secure channel and node identities: everything that crosses the
        // network between two PeerDist nodes.
        .target(
            name: "PeerDistWire",
            dependencies: [
                "PeerDistHashing",
                "CSodium",
                "CZstd",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The content store: published files served in place, downloads, quota and its log.
        .target(
            name: "PeerDistStore",
            dependencies: ["PeerDistHashing"]
        ),
        // Signed directory mirrors: manifests, chunk deltas, tree scans and atomic updates.
        .target(
            name: "PeerDistMirror",
            dependencies: [
                "PeerDistHashing",
                "PeerDistWire",
                "CSystemCalls",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The node: discovery, scheduling, serving, the mirror service and the control socket.
        .target(
            name: "PeerDist",
            dependencies: [
                "PeerDistHashing",
                "PeerDistWire",
                "PeerDistStore",
                "PeerDistMirror",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "peerdist-cli",
            dependencies: [
                "PeerDistHashing",
                "PeerDistStore",
                "PeerDistMirror",
                "PeerDist",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "PeerDistHashingTests", dependencies: ["PeerDistHashing"]),
        .testTarget(
            name: "PeerDistTests",
            dependencies: [
                "PeerDistHashing",
                "PeerDistWire",
                "PeerDistStore",
                "PeerDistMirror",
                "PeerDist",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Runs the built `peerdist` binary as a user would; needs `swift build` to have built it.
        .testTarget(name: "PeerDistCLITests", dependencies: ["PeerDistHashing"]),
    ] + fuzzTargets()
)

// libFuzzer targets for the decoders of outside input, in Fuzz/ (see Fuzz/README.md). They are
// executables of this package, not products, so that they reach `package` declarations. A plain
// `swift build` compiles each as a replayer of the files named on its command line; only
// `scripts/fuzz`, which adds `-DFUZZING` and `-sanitize=fuzzer,address`, makes them fuzzers.
func fuzzTargets() -> [Target] {
    let nio: [Target.Dependency] = [.product(name: "NIOCore", package: "swift-nio")]
    let fuzzers: [(name: String, dependencies: [Target.Dependency])] = [
        ("FuzzContentInformation", ["PeerDistHashing"]),
        ("FuzzKeys", ["PeerDistHashing"]),
        ("FuzzWireMessages", ["PeerDistHashing", "PeerDistWire"] + nio),
        ("FuzzHandshake", ["PeerDistWire"]),
        ("FuzzRecords", ["PeerDistWire", .product(name: "NIOEmbedded", package: "swift-nio")] + nio),
        ("FuzzDeltas", ["PeerDistHashing", "PeerDistWire"] + nio),
        ("FuzzManifests", ["PeerDistHashing", "PeerDistWire", "PeerDistMirror"]),
        ("FuzzMirrorFiles", ["PeerDistHashing", "PeerDistMirror"]),
        ("FuzzDiscovery", ["PeerDistHashing", "PeerDistWire", "PeerDist"] + nio),
        ("FuzzWSDiscovery", ["PeerDist"]),
        ("FuzzControl", ["PeerDist", "PeerDistMirror"]),
    ]
    return [
        // Declares LLVMFuzzerRunDriver, which only `-sanitize=fuzzer` links in.
        .systemLibrary(name: "CLibFuzzer", path: "Fuzz/Shims/CLibFuzzer"),
        // The driver every fuzzer shares: libFuzzer's loop, or a replay of files.
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"], path: "Fuzz/Support"),
    ] + fuzzers.map { fuzzer in
        .executableTarget(name: fuzzer.name, dependencies: ["FuzzSupport"] + fuzzer.dependencies, path: "Fuzz/Sources/\(fuzzer.name)")
    }
}
