// swift-tools-version: 6.1
import PackageDescription

// Products of the packages below, named once.
let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")
let cryptoExtras: Target.Dependency = .product(name: "CryptoExtras", package: "swift-crypto")
let nioCore: Target.Dependency = .product(name: "NIOCore", package: "swift-nio")
let nioPosix: Target.Dependency = .product(name: "NIOPosix", package: "swift-nio")
let nioHTTP1: Target.Dependency = .product(name: "NIOHTTP1", package: "swift-nio")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let serviceLifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let subprocess: Target.Dependency = .product(name: "Subprocess", package: "swift-subprocess")
let metrics: Target.Dependency = .product(name: "Metrics", package: "swift-metrics")
let prometheus: Target.Dependency = .product(name: "Prometheus", package: "swift-prometheus")

let package = Package(
    name: "PeerDist",
    products: [
        .library(name: "PeerDistHashing", targets: ["PeerDistHashing"]),
        .library(name: "PeerDistWire", targets: ["PeerDistWire"]),
        .library(name: "PeerDistStore", targets: ["PeerDistStore"]),
        .library(name: "PeerDistMirror", targets: ["PeerDistMirror"]),
        .library(name: "PeerDistBranchCache", targets: ["PeerDistBranchCache"]),
        .library(name: "PeerDistCollaboration", targets: ["PeerDistCollaboration"]),
        .library(name: "PeerDistDHT", targets: ["PeerDistDHT"]),
        .library(name: "PeerDist", targets: ["PeerDist"]),
        .executable(name: "peerdist", targets: ["peerdist-cli"]),
        // For this checkout's benchmarks (`scripts/bench`), not for users.
        .executable(name: "peerdist-bench", targets: ["peerdist-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // System libraries, found through pkg-config; `providers` names the Debian packages.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // QR codes of contact cards, for `peerdist me card --qr`.
        .systemLibrary(name: "CQREncode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),
        // Linux system calls the Glibc module leaves out.
        .target(name: "CSystemCalls"),
        // In-place AES-256-GCM from the BoringSSL inside swift-crypto (its Swift API copies).
        .target(name: "CAESGCM"),
        // SHA-256 of blocks straight from a file mapping, a truncation meanwhile caught (SIGBUS).
        .target(name: "CMappedHash", dependencies: ["CLibCrypto"]),

        // Bytes into Content Information, content IDs and keys.
        .target(name: "PeerDistHashing", dependencies: ["CLibCrypto", "CMappedHash", crypto, cryptoExtras]),
        // Messages, codecs, the secure channel and node identities: everything that crosses the
        // network between two PeerDist nodes.
        .target(name: "PeerDistWire", dependencies: ["PeerDistHashing", "CAESGCM", "CSodium", "CZstd", crypto, nioCore, nioPosix]),
        // The content store: published files served in place, downloads, quota and its log.
        .target(name: "PeerDistStore", dependencies: ["PeerDistHashing", "CSystemCalls"]),
        // Signed directory mirrors: manifests, tree scans, the local chunk index and atomic updates.
        .target(name: "PeerDistMirror", dependencies: ["PeerDistHashing", "PeerDistWire", "CSystemCalls", crypto]),
        // The listening socket, parser, idle rule and connection cap the node's HTTP servers share.
        .target(name: "PeerDistHTTP", dependencies: [nioCore, nioPosix, nioHTTP1, serviceLifecycle]),
        // BranchCache's own protocols: MS-PCCRR messages, block encryption, and the HTTP server
        // that answers BranchCache clients from any source of verified blocks.
        .target(
            name: "PeerDistBranchCache",
            dependencies: [
                "PeerDistHashing", "PeerDistWire", "PeerDistHTTP", crypto, cryptoExtras, nioCore, nioPosix, nioHTTP1, logging, metrics, serviceLifecycle,
            ]
        ),
        // BitTorrent's Mainline DHT (BEP 5, 32, 42, 44): bencoding, KRPC, and a DHT node; how
        // content holders and names are found beyond one LAN.
        .target(name: "PeerDistDHT", dependencies: ["PeerDistHashing", crypto, nioCore, nioPosix, logging]),
        // People: contact cards, presence, People Near Me, objects, invitations, and the book
        // that keeps contacts and settings.
        .target(name: "PeerDistCollaboration", dependencies: ["PeerDistWire", "PeerDistStore", "PeerDistHashing", crypto]),
        // The node: discovery, scheduling, serving, the mirror service and the control socket.
        .target(
            name: "PeerDist",
            dependencies: [
                "PeerDistHashing", "PeerDistWire", "PeerDistStore", "PeerDistMirror", "PeerDistCollaboration", "PeerDistBranchCache",
                "PeerDistDHT", crypto, nioCore, nioPosix, nioHTTP1, logging, metrics, serviceLifecycle,
            ]
        ),
        // Running a node for operators: the Prometheus endpoint, the status page and the
        // configuration file of `peerdist serve`.
        .target(
            name: "PeerDistOperations",
            dependencies: ["PeerDist", "PeerDistHashing", "PeerDistStore", "PeerDistCollaboration", "PeerDistDHT", "PeerDistHTTP", metrics, prometheus, nioCore, nioPosix, nioHTTP1, logging, serviceLifecycle]
        ),
        // What the package's command-line programs share (sizes, output, failures, child
        // processes); linked into them, not a product.
        .target(name: "PeerDistCommandSupport", dependencies: [argumentParser, subprocess]),
        .executableTarget(
            name: "peerdist-cli",
            dependencies: [
                "PeerDistHashing", "PeerDistStore", "PeerDistMirror", "PeerDistCollaboration", "PeerDist", "PeerDistBranchCache",
                "PeerDistDHT", "PeerDistCommandSupport", "PeerDistOperations", "CQREncode", argumentParser, logging, serviceLifecycle,
            ]
        ),
        // Hosts in network namespaces and tree comparison, for the benchmarks and the CLI tests.
        .target(name: "PeerDistTestHosts", dependencies: ["PeerDistCommandSupport"]),
        // The benchmark harness: drives the release `peerdist` binary against standard tools.
        .executableTarget(
            name: "peerdist-bench",
            dependencies: ["PeerDistHashing", "PeerDistWire", "PeerDistDHT", "PeerDistCommandSupport", "PeerDistTestHosts", argumentParser]
        ),
        // A node that corrupts every block it serves, for the tests of how peers handle a liar.
        .executableTarget(name: "peerdist-liar", dependencies: ["PeerDist", "PeerDistCommandSupport", argumentParser, logging]),

        .testTarget(name: "PeerDistHTTPTests", dependencies: ["PeerDistHTTP", nioCore, nioPosix, nioHTTP1]),
        .testTarget(name: "PeerDistHashingTests", dependencies: ["PeerDistHashing"]),
        .testTarget(name: "PeerDistOperationsTests", dependencies: ["PeerDistOperations", "PeerDist", prometheus, logging]),
        .testTarget(name: "PeerDistDHTTests", dependencies: ["PeerDistDHT", crypto, nioCore, nioPosix, logging]),
        .testTarget(name: "PeerDistCollaborationTests", dependencies: ["PeerDistCollaboration", "PeerDistWire", "PeerDistHashing"]),
        .testTarget(
            name: "PeerDistBranchCacheTests",
            dependencies: ["PeerDistHashing", "PeerDistWire", "PeerDistBranchCache", crypto, cryptoExtras, nioCore, nioPosix, nioHTTP1, logging]
        ),
        .testTarget(
            name: "PeerDistTests",
            dependencies: [
                "PeerDistHashing", "PeerDistWire", "PeerDistStore", "PeerDistMirror", "PeerDist", "PeerDistBranchCache", "PeerDistTestHosts",
                crypto, nioCore, nioPosix, .product(name: "NIOEmbedded", package: "swift-nio"), logging,
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        // Runs the built binaries as a user would; depending on the executables makes
        // `swift build --build-tests` rebuild them first, so a stale binary is never tested.
        .testTarget(
            name: "PeerDistCLITests",
            dependencies: ["PeerDistHashing", "PeerDistDHT", "PeerDistTestHosts", "peerdist-cli", "peerdist-liar", "peerdist-bench"]
        ),
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
        ("FuzzRecords", ["PeerDistHashing", "PeerDistWire", .product(name: "NIOEmbedded", package: "swift-nio")] + nio),
        ("FuzzDeltas", ["PeerDistHashing", "PeerDistWire"] + nio),
        ("FuzzManifests", ["PeerDistHashing", "PeerDistWire", "PeerDistMirror"]),
        ("FuzzMirrorFiles", ["PeerDistHashing", "PeerDistMirror"]),
        ("FuzzDiscovery", ["PeerDistHashing", "PeerDistWire", "PeerDist"] + nio),
        ("FuzzWSDiscovery", ["PeerDist", "PeerDistHashing"]),
        ("FuzzControl", ["PeerDist", "PeerDistMirror"]),
        ("FuzzPCCRR", ["PeerDistHashing", "PeerDistWire", "PeerDistBranchCache"] + nio),
        ("FuzzPCHC", ["PeerDistHashing", "PeerDistBranchCache"]),
        ("FuzzContactCards", ["PeerDistCollaboration", "PeerDistWire"]),
        ("FuzzCollaborationMessages", ["PeerDistCollaboration", "PeerDistWire"]),
        ("FuzzConfigurationFile", ["PeerDistOperations"]),
        ("FuzzKRPC", ["PeerDistDHT", .product(name: "Logging", package: "swift-log")] + nio),
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
