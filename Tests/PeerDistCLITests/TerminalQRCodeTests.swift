import Foundation
import Testing

@testable import peerdist_cli

private let zbarimg = "/usr/bin/zbarimg"

/// The QR codes `peerdist me card --qr` draws: read back from the half blocks into an image,
/// zbarimg (Debian's zbar-tools, which scripts/install-dependencies installs) decodes the text.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: zbarimg), "needs zbarimg (zbar-tools)"))
struct TerminalQRCodeTests {

    static var cardText: String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<220).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return "peerdist-contact:" + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    @Test(arguments: ["peerdist-contact:AAAA", cardText, "Grace Hopper ✓ 👩‍💻", String(repeating: "x", count: 1000)])
    func aScannerReadsTheTextBack(_ text: String) throws {
        let drawing = try TerminalQRCode.render(text)
        #expect(try Self.scan(drawing) == text)
    }

    @Test func theDrawingIsSquareWithALightQuietZone() throws {
        let modules = try TerminalQRCode.modules("peerdist-contact:AAAA")
        let size = modules.count + 4
        let lines = try TerminalQRCode.render("peerdist-contact:AAAA").split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == (size + 1) / 2)
        #expect(lines.allSatisfy { $0.count == size })
        #expect(lines.first!.allSatisfy { $0 == "█" })
        #expect(lines.last!.allSatisfy { $0 == "▀" })  // the last module row over blank
        for line in lines {
            #expect(Array(line.prefix(2)).allSatisfy { $0 == "█" || $0 == "▀" })
            #expect(Array(line.suffix(2)).allSatisfy { $0 == "█" || $0 == "▀" })
        }
        // The top-left finder pattern's first two rows (dark ×7, then dark, light ×5, dark) after
        // the quiet zone: dark modules are left blank.
        #expect(modules[0][0..<7].allSatisfy { $0 } && modules[1][0] && !modules[1][1])
        #expect(String(Array(lines[1])[0..<9]) == "██ ▄▄▄▄▄ ")
    }

    @Test func textTooLongForAQRCodeIsRefused() {
        #expect(throws: (any Error).self) { try TerminalQRCode.render(String(repeating: "x", count: 3000)) }
        #expect(throws: (any Error).self) { try TerminalQRCode.render("") }
    }

    /// Reads `drawing` back into modules (two rows a character; blank is dark), writes them as a
    /// PBM image at 4 pixels a module with a dark surround, as a dark terminal shows it, and
    /// returns what zbarimg reads from it.
    static func scan(_ drawing: String) throws -> String {
        var rows: [[Bool]] = []  // true: dark
        for line in drawing.split(separator: "\n") {
            var top: [Bool] = [], bottom: [Bool] = []
            for character in line {
                switch character {
                case "█": top.append(false); bottom.append(false)
                case "▀": top.append(false); bottom.append(true)
                case "▄": top.append(true); bottom.append(false)
                case " ": top.append(true); bottom.append(true)
                default: Issue.record("unexpected character \(character) in the drawing")
                }
            }
            rows += [top, bottom]
        }
        let scale = 4, surround = 4
        let width = (rows[0].count + 2 * surround) * scale
        let height = (rows.count + 2 * surround) * scale
        var image = "P1\n\(width) \(height)\n"
        for y in 0..<height {
            let row = y / scale - surround
            image += (0..<width).map { x -> String in
                let column = x / scale - surround
                guard rows.indices.contains(row), rows[row].indices.contains(column) else { return "1" }
                return rows[row][column] ? "1" : "0"
            }.joined(separator: " ")
            image += "\n"
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("peerdist-qr-\(UUID().uuidString).pbm")
        try image.write(to: file, atomically: false, encoding: .ascii)
        defer { try? FileManager.default.removeItem(at: file) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: zbarimg)
        process.arguments = ["--quiet", "--raw", "-Sbinary", file.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "zbarimg found no code")
        return String(decoding: data, as: UTF8.self)
    }
}
