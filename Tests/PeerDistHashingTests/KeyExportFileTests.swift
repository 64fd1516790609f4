import Testing
@testable import PeerDistHashing

@Suite struct KeyExportFileTests {
    @Test(arguments: [1, 15, 16, 32, 100])
    func exportThenImportRoundTrips(keyLength: Int) throws {
        let secret = ServerSecret(keyBytes: (0..<keyLength).map { UInt8(truncatingIfNeeded: $0 * 37) })
        let file = KeyExportFile.export(secret, passphrase: "pässwörd ✓")
        #expect(file.count % 16 == 0)
        #expect(try KeyExportFile.import(file, passphrase: "pässwörd ✓") == secret)
    }

    @Test func wrongPassphraseIsReportedAsSuch() {
        let file = KeyExportFile.export(.random(), passphrase: "right")
        #expect(throws: KeyExportFileError.wrongPassphrase) { try KeyExportFile.import(file, passphrase: "wrong") }
    }

    @Test func damagedFilesAreRejected() {
        var file = KeyExportFile.export(.random(), passphrase: "p")
        file[20] ^= 0x40
        #expect(throws: KeyExportFileError.wrongPassphrase) { try KeyExportFile.import(file, passphrase: "p") }
        #expect(throws: KeyExportFileError.self) { try KeyExportFile.import(Array(file.prefix(47)), passphrase: "p") }
        #expect(throws: KeyExportFileError.self) { try KeyExportFile.import([], passphrase: "p") }
    }
}
