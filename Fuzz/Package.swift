// swift-tools-version: 6.1
// libFuzzer targets for PeerDist's decoders of untrusted input, one executable per folder of
// Sources/. Built and run by `scripts/fuzz`; they link only with `-sanitize=fuzzer`.
import PackageDescription

let package = Package(
    name: "PeerDistFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "PeerDist", path: ".."),
    ],
    targets: [
        // Declares LLVMFuzzerRunDriver, through which each target's own main hands over to libFuzzer.
        .systemLibrary(name: "CLibFuzzer", path: "Shims/CLibFuzzer"),
        .executableTarget(
            name: "FuzzContentInformation",
            dependencies: ["CLibFuzzer", .product(name: "PeerDistHashing", package: "PeerDist")]
        ),
    ]
)
