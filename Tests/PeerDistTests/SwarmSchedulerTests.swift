import Synchronization
import Testing
@testable import PeerDist

@Suite struct BlockSetTests {
    @Test func bytesRoundTripAndRejectBitsPastTheEnd() throws {
        var set = BlockSet(count: 20)
        for block in [0, 7, 8, 19] { set.insert(block) }
        #expect(set.bytes == [0x81, 0x01, 0x08])
        #expect(BlockSet(bytes: set.bytes, count: 20) == set)
        #expect(BlockSet(bytes: [0, 0, 0x10], count: 20) == nil, "bit 20 names a block past the last")
        #expect(BlockSet(bytes: [0, 0], count: 20) == nil, "too short")
        #expect(BlockSet(count: 130, filled: true).cardinality == 130)
    }

    @Test func visitsEveryCommonBlockOnceFromAnyStart() {
        var set = BlockSet(count: 200)
        var other = BlockSet(count: 200)
        for block in stride(from: 0, to: 200, by: 3) { set.insert(block) }
        for block in stride(from: 0, to: 200, by: 2) { other.insert(block) }
        let expected = Set(stride(from: 0, to: 200, by: 6))
        for start in [0, 1, 63, 64, 65, 130, 199] {
            var seen: [Int] = []
            set.forEachCommon(with: other, from: start) { seen.append($0); return true }
            #expect(Set(seen) == expected && seen.count == expected.count, "start \(start)")
            #expect(seen.first == expected.filter { $0 >= start }.min() ?? expected.min())
        }
    }
}

@Suite struct SwarmSchedulerTests {
    static let seeder = PeerAddress(host: "fe80::1", port: 1)
    static let leecher = PeerAddress(host: "fe80::2", port: 1)

    /// Two segments of 8 blocks.
    static func scheduler(held: Set<Int> = []) -> SwarmScheduler {
        SwarmScheduler(blockCounts: [8, 8], blocksPerRequest: 4) { held.contains($0 * 8 + $1) }
    }

    /// The seeder, holding every block, and the leecher, holding 0–11, both known since `known`.
    static func seederAndLeecher() -> (scheduler: SwarmScheduler, known: ContinuousClock.Instant) {
        let scheduler = scheduler()
        let now = ContinuousClock.now
        scheduler.join(seeder) {}
        scheduler.join(leecher) {}
        scheduler.setAvailability(of: seeder, to: BlockSet(count: 16, filled: true), now: now)
        scheduler.setAvailability(of: leecher, to: set(0..<12), now: now)
        return (scheduler, now)
    }

    /// The block numbers `requests` ask for (segments of 8).
    static func numbers(_ requests: [SwarmScheduler.Request]) -> [Int] {
        requests.flatMap { request in request.blocks.map { request.segment * 8 + $0 } }
    }

    static func set(_ blocks: some Sequence<Int>, count: Int = 16) -> BlockSet {
        var set = BlockSet(count: count)
        blocks.forEach { set.insert($0) }
        return set
    }

    @Test func requestsAreRunsWithinOneSegment() {
        let scheduler = Self.scheduler(held: [2])
        scheduler.join(Self.seeder) {}
        scheduler.setAvailability(of: Self.seeder, to: BlockSet(count: 16, filled: true))
        let requests = scheduler.take(for: Self.seeder, budget: 100)
        let blocks = requests.flatMap { request in request.blocks.map { request.segment * 8 + $0 } }
        #expect(Set(blocks) == Set(0..<16).subtracting([2]) && blocks.count == 15, "every missing block once")
        for request in requests {
            #expect(request.blocks.count <= 4)
            #expect(zip(request.blocks, request.blocks.dropFirst()).allSatisfy { $1 == $0 + 1 }, "consecutive: \(request)")
        }
    }

    @Test func rarestBlocksGoFirst() {
        let scheduler = Self.scheduler()
        scheduler.join(Self.seeder) {}
        scheduler.join(Self.leecher) {}
        scheduler.setAvailability(of: Self.seeder, to: BlockSet(count: 16, filled: true))
        // Blocks 0–11 are held by two peers, 12–15 only by the seeder.
        scheduler.setAvailability(of: Self.leecher, to: Self.set(0..<12))
        let first = scheduler.take(for: Self.seeder, budget: 4).flatMap { request in request.blocks.map { request.segment * 8 + $0 } }
        #expect(Set(first) == Set(12..<16))
    }

    /// Another fetcher holds the first half and is at work on the blocks after it, which it has
    /// asked the seeder for and not yet announced. This fetcher's requests to the seeder begin at
    /// blocks picked uniformly among the rarest, so they seldom land on that work; a run begun at
    /// the first rarest block after a random place landed on it about half the time.
    @Test func requestsToASharedSeederRarelyLandWhereAnotherFetcherIsAtWork() {
        let blocks = 4096
        let scheduler = SwarmScheduler(blockCounts: [blocks], blocksPerRequest: 16) { _, _ in false }
        let other = PeerAddress(host: "fe80::3", port: 1)
        scheduler.join(Self.seeder) {}
        scheduler.join(other) {}
        scheduler.setAvailability(of: Self.seeder, to: BlockSet(count: blocks, filled: true))
        scheduler.setAvailability(of: other, to: Self.set(0..<(blocks / 2), count: blocks))
        let atWork = (blocks / 2)..<(blocks / 2 + 16)
        var landed = 0
        let trials = 400
        for _ in 0..<trials {
            let requests = scheduler.take(for: Self.seeder, budget: 16)
            if requests.contains(where: { $0.blocks.contains(where: atWork.contains) }) { landed += 1 }
            for request in requests { scheduler.returned(segment: request.segment, blocks: request.blocks, by: Self.seeder) }
        }
        #expect(landed < trials / 10, "\(landed) of \(trials) choices asked for blocks the other fetcher is at work on")
    }

    /// The seeder's upload is what every fetcher lacks: while a peer still fetching advertises a
    /// block, the seeder is not asked for it, until it has been open for the spare time.
    @Test func aCompleteHolderIsSparedWhatFetchingPeersAdvertise() {
        let (scheduler, start) = Self.seederAndLeecher()
        let first = Self.numbers(scheduler.take(for: Self.seeder, budget: 16, now: start))
        #expect(Set(first) == Set(12..<16) && first.count == 4, "only what the leecher lacks")
        #expect(scheduler.take(for: Self.seeder, budget: 16, now: start + .milliseconds(100)).isEmpty, "no endgame copies while blocks are open")
        let late = Self.numbers(scheduler.take(for: Self.seeder, budget: 16, now: start + scheduler.spareTime))
        #expect(Set(late) == Set(0..<12) && late.count == 12, "blocks left open for the spare time are the seeder's again")
    }

    @Test func aCompleteHolderTakesEndgameCopiesOnceNothingIsOpen() {
        let scheduler = Self.seederAndLeecher().scheduler
        let fromSeeder = scheduler.take(for: Self.seeder, budget: 16)
        #expect(fromSeeder.flatMap(\.blocks).count == 4)
        #expect(scheduler.take(for: Self.leecher, budget: 16).flatMap(\.blocks).count == 12)
        for request in fromSeeder {
            for block in request.blocks { scheduler.delivered(segment: request.segment, block: block, by: Self.seeder) }
        }
        // Nothing open and the seeder dry: it may race the leecher for one request's worth.
        let copies = Self.numbers(scheduler.take(for: Self.seeder, budget: 16))
        #expect(copies.count == 4 && copies.allSatisfy { $0 < 12 })
    }

    /// With every holder complete there is nobody to spare them for: they share the work.
    @Test func completeHoldersAloneShareEverything() {
        let scheduler = Self.scheduler()
        let other = PeerAddress(host: "fe80::3", port: 1)
        for peer in [Self.seeder, other] {
            scheduler.join(peer) {}
            scheduler.setAvailability(of: peer, to: BlockSet(count: 16, filled: true))
        }
        #expect(scheduler.take(for: Self.seeder, budget: 8).flatMap(\.blocks).count == 8)
        #expect(scheduler.take(for: other, budget: 8).flatMap(\.blocks).count == 8)
    }

    /// A holder that turns out to lack a block is a fetching peer like the others from then on.
    @Test func aCompleteHolderLackingABlockIsNoLongerSpared() {
        let scheduler = Self.seederAndLeecher().scheduler
        let first = scheduler.take(for: Self.seeder, budget: 16)
        for request in first { scheduler.returned(segment: request.segment, blocks: request.blocks, by: Self.seeder, lacking: request.segment == 1) }
        // The seeder now lacks 12–15 (segment 1's last four): it is asked for the leecher's blocks at once.
        #expect(Set(Self.numbers(scheduler.take(for: Self.seeder, budget: 16))) == Set(0..<12))
    }

    @Test func aPeerIsOnlyAskedForWhatItHas() {
        let scheduler = Self.scheduler()
        scheduler.join(Self.leecher) {}
        #expect(scheduler.take(for: Self.leecher, budget: 16).isEmpty, "availability unknown")
        scheduler.setAvailability(of: Self.leecher, to: Self.set([3, 9]))
        let blocks = scheduler.take(for: Self.leecher, budget: 16).flatMap { request in request.blocks.map { request.segment * 8 + $0 } }
        #expect(Set(blocks) == [3, 9])
    }

    @Test func endgameAsksADryPeerForBlocksInFlightElsewhereAndNudgesTheLoser() throws {
        let scheduler = Self.scheduler()
        let nudges = Mutex(0)
        scheduler.join(Self.seeder) { nudges.withLock { $0 += 1 } }
        scheduler.join(Self.leecher) {}
        scheduler.setAvailability(of: Self.seeder, to: BlockSet(count: 16, filled: true))
        scheduler.setAvailability(of: Self.leecher, to: BlockSet(count: 16, filled: true))
        #expect(scheduler.take(for: Self.seeder, budget: 16).flatMap(\.blocks).count == 16)
        // Nothing open: the leecher, dry, gets one request's worth of copies.
        let copies = scheduler.take(for: Self.leecher, budget: 16)
        // Four blocks from a random place: one or two requests (a run may cross a segment's end).
        #expect(copies.flatMap(\.blocks).count == 4 && (1...2).contains(copies.count))
        // A third ask of the same blocks is refused: two copies at most, and the leecher is not dry.
        #expect(scheduler.take(for: Self.leecher, budget: 16).isEmpty)
        let copy = try #require(copies.first)
        scheduler.delivered(segment: copy.segment, block: copy.blocks[0], by: Self.leecher)
        #expect(nudges.withLock { $0 } == 1, "the seeder is told its request lost the race")
        #expect(!scheduler.isMissing(segment: copy.segment, block: copy.blocks[0]))
    }

    @Test func aPeerThatLeavesGivesItsBlocksBack() {
        let scheduler = Self.scheduler()
        let nudges = Mutex(0)
        scheduler.join(Self.seeder) {}
        scheduler.join(Self.leecher) { nudges.withLock { $0 += 1 } }
        scheduler.setAvailability(of: Self.seeder, to: BlockSet(count: 16, filled: true))
        scheduler.setAvailability(of: Self.leecher, to: BlockSet(count: 16, filled: true))
        #expect(scheduler.take(for: Self.seeder, budget: 16).flatMap(\.blocks).count == 16)
        scheduler.leave(Self.seeder)
        #expect(nudges.withLock { $0 } == 1)
        #expect(scheduler.take(for: Self.leecher, budget: 16).flatMap(\.blocks).count == 16, "all open again, not endgame copies")
    }

    @Test func aPeerLackingABlockIsNotAskedForItAgain() {
        let scheduler = Self.scheduler()
        scheduler.join(Self.seeder) {}
        scheduler.setAvailability(of: Self.seeder, to: BlockSet(count: 16, filled: true))
        let requests = scheduler.take(for: Self.seeder, budget: 16)
        for request in requests { scheduler.returned(segment: request.segment, blocks: request.blocks, by: Self.seeder, lacking: true) }
        #expect(scheduler.take(for: Self.seeder, budget: 16).isEmpty)
        #expect(!scheduler.hasWanted(Self.seeder))
        #expect(scheduler.missingCount == 16)
    }

    /// A BranchCache origin: only blocks no peer advertises, never while a peer's availability is
    /// unknown, one contiguous run at a time, no endgame copies, and not counted as a holder.
    @Test func aSourceOfLastResortGetsOnlyWhatNoPeerHas() throws {
        let origin = PeerAddress(host: "fe80::9", port: 80)
        let scheduler = Self.scheduler()
        scheduler.joinLastResort(origin) {}
        scheduler.join(Self.leecher) {}
        #expect(scheduler.take(for: origin, budget: 4).isEmpty, "the leecher's availability is unknown")
        scheduler.setAvailability(of: Self.leecher, to: Self.set(0..<12))
        // An origin lacking a block leaves the peers' counts alone: block 8 is still the leecher's.
        scheduler.returned(segment: 1, blocks: [0], by: origin, lacking: true)
        var taken: [Int] = []
        while true {
            let requests = scheduler.take(for: origin, budget: 4)
            guard !requests.isEmpty else { break }
            #expect(requests.count == 1, "one range request")
            let request = try #require(requests.first)
            #expect(request.blocks.count <= 4 && zip(request.blocks, request.blocks.dropFirst()).allSatisfy { $1 == $0 + 1 })
            taken += request.blocks.map { request.segment * 8 + $0 }
        }
        #expect(Set(taken) == Set(12..<16) && taken.count == 4, "blocks 12–15, which only the origin has, once each")
        // Blocks the leecher advertises go to the leecher, rarest first as if the origin were not there.
        let fromLeecher = scheduler.take(for: Self.leecher, budget: 16).flatMap { request in request.blocks.map { request.segment * 8 + $0 } }
        #expect(Set(fromLeecher) == Set(0..<12))
        #expect(scheduler.take(for: origin, budget: 4).isEmpty, "no endgame copies of the leecher's blocks")
        // The leecher leaves: its blocks are the origin's to send.
        scheduler.leave(Self.leecher)
        let reopened = scheduler.take(for: origin, budget: 4)
        #expect(!reopened.isEmpty)
    }
}

@Suite struct PipeEstimatorTests {
    @Test func theWindowFollowsRateTimesRoundTrip() {
        var estimator = PipeEstimator(blockSize: 65536, minimum: 8, maximum: 256, initial: 32)
        estimator.slack = .zero
        #expect(estimator.window == 32, "the initial window until measured")
        estimator.firstBlock(after: .milliseconds(10))
        let start = ContinuousClock.now
        // 6.4 MB over 200 ms: 32 MB/s; twice 32 MB/s × 10 ms is 640 000 bytes, 10 blocks.
        estimator.delivered(0, at: start)
        for step in 1...100 { estimator.delivered(64_000, at: start + .milliseconds(2 * step)) }
        #expect(estimator.window == 10)
        // A faster pipe opens the window at once, up to the maximum.
        estimator.delivered(640_000_000, at: start + .milliseconds(400))
        #expect(estimator.window == 256)
    }

    @Test func aSlowPeerKeepsTheMinimum() {
        var estimator = PipeEstimator(blockSize: 65536, minimum: 8, maximum: 256)
        estimator.firstBlock(after: .milliseconds(1))
        let start = ContinuousClock.now
        estimator.delivered(0, at: start)
        estimator.delivered(1000, at: start + .seconds(1))
        #expect(estimator.window == 8)
    }
}

@Suite struct ProgressThrottleTests {
    @Test func letsOneUpdateThroughPerIntervalAndKeepsTheLast() {
        let throttle = ProgressThrottle(interval: .milliseconds(100))
        let start = ContinuousClock.now
        let first = PeerAddress(host: "fe80::1", port: 1), second = PeerAddress(host: "fe80::2", port: 1)
        #expect(throttle.admits(first, now: start))
        #expect(!throttle.admits(first, now: start + .milliseconds(50)))
        #expect(!throttle.admits(second, now: start + .milliseconds(99)))
        #expect(throttle.withheld == second, "the last one held back is kept for the end")
        #expect(throttle.admits(first, now: start + .milliseconds(100)))
        #expect(throttle.withheld == nil)
    }
}
