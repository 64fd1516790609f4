import CQREncode
import Foundation
import PeerDistCommandSupport

/// A QR code drawn with Unicode half blocks, for a phone to scan off the terminal (`peerdist me
/// card --qr`).
///
/// Each character holds two modules, one above the other, so the code is about square in a
/// terminal's tall cells. Light modules are drawn with the terminal's foreground colour and dark
/// ones left blank: on the usual light-on-dark terminal that shows dark modules on light, as
/// phone readers expect, with a light quiet zone of `quietZone` modules around the symbol.
/// libqrencode makes the symbol: error correction level M, 8-bit mode, the smallest version that
/// holds the text.
enum TerminalQRCode {
    static let quietZone = 2

    /// The code of `text`'s UTF-8 bytes, one line per two module rows, each line ending in "\n".
    static func render(_ text: String) throws -> String {
        render(modules: try modules(text))
    }

    /// The symbol's modules, row by row, `true` for dark, without a quiet zone.
    static func modules(_ text: String) throws -> [[Bool]] {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw CommandFailure("there is no text to draw as a QR code") }
        // Version 0: the smallest that holds the data.
        guard let code = bytes.withUnsafeBufferPointer({ QRcode_encodeData(Int32($0.count), $0.baseAddress, 0, QR_ECLEVEL_M) }) else {
            let reason = errno == ERANGE ? "it is \(bytes.count) bytes, more than a QR code holds" : String(cString: strerror(errno))
            throw CommandFailure("cannot draw a QR code of the text: \(reason)")
        }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        let data = UnsafeBufferPointer(start: code.pointee.data, count: width * width)
        // Bit 0 of each byte is the module's colour (1 dark); the other bits say what it is part of.
        return (0..<width).map { row in (0..<width).map { column in data[row * width + column] & 1 == 1 } }
    }

    /// `modules` inside a light quiet zone, as half blocks.
    static func render(modules: [[Bool]]) -> String {
        let size = modules.count + 2 * quietZone
        /// Whether the module at (row, column) of the whole drawing, quiet zone included, is
        /// light; below the drawing's last row counts as dark (nothing drawn).
        func isLight(_ row: Int, _ column: Int) -> Bool {
            guard row < size else { return false }
            let symbolRow = row - quietZone, symbolColumn = column - quietZone
            guard modules.indices.contains(symbolRow), modules[symbolRow].indices.contains(symbolColumn) else { return true }
            return !modules[symbolRow][symbolColumn]
        }
        var drawing = ""
        for row in stride(from: 0, to: size, by: 2) {
            for column in 0..<size {
                switch (isLight(row, column), isLight(row + 1, column)) {
                case (true, true): drawing += "█"
                case (true, false): drawing += "▀"
                case (false, true): drawing += "▄"
                case (false, false): drawing += " "
                }
            }
            drawing += "\n"
        }
        return drawing
    }
}
