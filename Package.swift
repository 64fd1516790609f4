// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "PeerDist",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "PeerDistHashing", targets: ["PeerDistHashing"]),
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
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
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
        .target(
            name: "PeerDist",
            dependencies: [
                "PeerDistHashing",
                "CSodium",
                "CZstd",
                "CSystemCalls",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What the package's command-line programs share (sizes, output, failures, child
        // processes); linked into them, not a product.
        .target(
            name: "PeerDistCommandSupport",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
        .executableTarget(
            name: "peerdist-cli",
            dependencies: [
                "PeerDistHashing",
                "PeerDist",
                "PeerDistCommandSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Hosts in network namespaces and tree comparison, for the benchmarks and the CLI tests.
        .target(name: "PeerDistTestHosts", dependencies: ["PeerDistCommandSupport"]),
        // The benchmark harness: drives the release `peerdist` binary against standard tools.
        .executableTarget(
            name: "peerdist-bench",
            dependencies: [
                "PeerDistHashing",
                "PeerDistCommandSupport",
                "PeerDistTestHosts",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A node that corrupts every block it serves, for the tests of how peers handle a liar.
        .executableTarget(
            name: "peerdist-liar",
            dependencies: [
                "PeerDist",
                "PeerDistCommandSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "PeerDistHashingTests", dependencies: ["PeerDistHashing"]),
        .testTarget(name: "PeerDistTests", dependencies: ["PeerDist"]),
        // Runs the built binaries as a user would; depending on the executables makes
        // `swift build --build-tests` rebuild them first, so a stale binary is never tested.
        .testTarget(
            name: "PeerDistCLITests",
            dependencies: ["PeerDistHashing", "PeerDistTestHosts", "peerdist-cli", "peerdist-liar", "peerdist-bench"]
        ),
    ]
)
