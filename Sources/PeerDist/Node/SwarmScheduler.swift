import PeerDistHashing

/// Decides which blocks of one fetch each peer is asked for.
///
/// - Rarest first: of the blocks a peer has that nobody has been asked for, the ones fewest
///   peers advertise go first, scanned from a random place so that fetchers starting together
///   ask a seeder for different blocks and can then trade them.
/// - Runs: consecutive blocks of one segment travel in one request (`blocksPerRequest`).
/// - Sparing complete holders: while some peers are still fetching too, a peer holding every
///   block is asked only for blocks none of them advertises (or one that has been advertised,
///   and left open, for `spareTime`), and takes no endgame copies while any block is open. Its
///   upload is what every fetcher lacks, and fetchers do not see each other's requests to it:
///   asked for what the others could send, it sent up to a tenth of a 3-leecher swarm's content
///   twice.
///   Blocks left open too long are its again, so slow peers holding them do not hold up a fetch.
/// - Endgame: a peer with nothing left to take and nothing outstanding is given one request's
///   worth of blocks already asked of others (each block of at most `endgameCopies` peers at
///   once); the first copy to arrive wins and the other sessions are nudged to cancel theirs.
///   This is also how a slow peer loses its requests to a fast one.
/// - Last resort: a source that holds everything but should send as little as it can (a
///   BranchCache origin behind a slow link) takes only open blocks no peer advertises, picked
///   around random places so that fetchers sharing the source ask it for different blocks, and
///   nothing while a peer's availability is still unknown; it takes no endgame copies.
///
/// Blocks are numbered across the content (segment 0's first); requests name segments and
/// block indices within them, as the wire does.
final class SwarmScheduler: Sendable {
    struct Request: Hashable, Sendable {
        let segment: Int
        let blocks: [Int]
    }

    /// `firstBlock[s]` is the number of segment `s`'s first block; one extra entry holds the total.
    let firstBlock: [Int]
    let blocksPerRequest: Int
    /// How many peers a block may be asked of at once in the endgame.
    let endgameCopies: UInt8 = 2
    /// How many candidate blocks a choice looks at to find the rarest: enough to see the swarm's
    /// spread, bounded so that choosing costs the same for a 64 GiB content as for a small one.
    static let sampleSize = 4096
    /// How long a block a fetching peer advertises is kept from complete holders while open:
    /// several of the fetching peers' availability intervals and round trips, so that they are
    /// asked first; short enough that a slow one costs little.
    let spareTime: Duration
    private let started: ContinuousClock.Instant

    private struct Peer {
        var has: BlockSet?
        /// Blocks asked of this peer and not yet delivered or returned.
        var requested: BlockSet
        let nudge: @Sendable () -> Void
        /// Holds every block but is asked only for what no peer has; not counted in availability.
        var isLastResort = false
    }

    private struct State {
        /// Blocks not held yet.
        var missing: BlockSet
        /// Blocks not held and not asked of anyone.
        var open: BlockSet
        var askedOf: [UInt8]
        var availability: [UInt16]
        /// When a peer not holding everything first advertised each block, in milliseconds from
        /// `started` plus one; 0 while none has.
        var firstAdvertised: [UInt32]
        var peers: [PeerAddress: Peer] = [:]
        /// Where choices start and probe: seeded once from the system, since asking the system
        /// (a `getrandom` call each) for the dozens of numbers one choice may draw showed in
        /// profiles of a fetch.
        var random = SplitMix64(seed: UInt64.random(in: .min ... .max))
    }

    private let state: PThreadMutex<State>

    init(
        blockCounts: [Int], blocksPerRequest: Int, spareTime: Duration = .milliseconds(500),
        isHeld: (_ segment: Int, _ block: Int) -> Bool
    ) {
        var first = [0]
        for count in blockCounts { first.append(first[first.count - 1] + count) }
        firstBlock = first
        self.blocksPerRequest = max(1, blocksPerRequest)
        self.spareTime = spareTime
        started = .now
        let total = first[first.count - 1]
        var missing = BlockSet(count: total)
        for (segment, count) in blockCounts.enumerated() {
            for block in 0..<count where !isHeld(segment, block) { missing.insert(first[segment] + block) }
        }
        state = PThreadMutex(State(
            missing: missing, open: missing, askedOf: [UInt8](repeating: 0, count: total),
            availability: [UInt16](repeating: 0, count: total), firstAdvertised: [UInt32](repeating: 0, count: total)))
    }

    var blockCount: Int { firstBlock[firstBlock.count - 1] }
    var missingCount: Int { state.withLock { $0.missing.cardinality } }
    var isComplete: Bool { state.withLock { $0.missing.isEmpty } }

    func number(segment: Int, block: Int) -> Int { firstBlock[segment] + block }

    /// The segment a block number lies in.
    func segment(of number: Int) -> Int {
        var low = 0
        var high = firstBlock.count - 2
        while low < high {
            let middle = (low + high + 1) / 2
            if firstBlock[middle] <= number { low = middle } else { high = middle - 1 }
        }
        return low
    }

    // MARK: Peers

    /// Adds a peer whose availability is not known yet. `nudge` is called (from any thread) when
    /// the peer's session should look at the schedule again: work was given back, or a block it
    /// was asked for arrived from someone else.
    func join(_ peer: PeerAddress, nudge: @escaping @Sendable () -> Void) {
        state.withLock { $0.peers[peer] = Peer(has: nil, requested: BlockSet(count: blockCount), nudge: nudge) }
    }

    /// Adds a source of last resort (see the type's notes): it holds every block, and is given
    /// only open blocks no other peer advertises.
    func joinLastResort(_ source: PeerAddress, nudge: @escaping @Sendable () -> Void) {
        state.withLock { state in
            var everything = BlockSet(count: blockCount)
            for block in 0..<blockCount { everything.insert(block) }
            state.peers[source] = Peer(has: everything, requested: BlockSet(count: blockCount), nudge: nudge, isLastResort: true)
        }
    }

    /// Replaces what `peer` is known to have; false when the set does not fit the content.
    @discardableResult
    func setAvailability(of peer: PeerAddress, to has: BlockSet, now: ContinuousClock.Instant = .now) -> Bool {
        guard has.count == blockCount else { return false }
        let stamp = milliseconds(at: now)
        return state.withLock { state in
            guard var entry = state.peers[peer] else { return false }
            Self.count(entry, by: -1, in: &state)
            entry.has = has
            Self.count(entry, by: 1, in: &state)
            if !has.isFull {
                has.forEachCommon(with: nil, from: 0) { block in
                    if state.firstAdvertised[block] == 0 { state.firstAdvertised[block] = stamp }
                    return true
                }
            }
            state.peers[peer] = entry
            return true
        }
    }

    /// `instant` as `firstAdvertised` counts: milliseconds since the scheduler began, plus one.
    private func milliseconds(at instant: ContinuousClock.Instant) -> UInt32 {
        let elapsed = started.duration(to: instant)
        return elapsed > .zero ? UInt32(clamping: Self.milliseconds(in: elapsed) + 1) : 1
    }

    private static func milliseconds(in duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// Whether `peer` has a block this fetch still lacks (false while its availability is unknown).
    func hasWanted(_ peer: PeerAddress) -> Bool {
        state.withLock { state in
            guard let has = state.peers[peer]?.has else { return false }
            return zip(has.words, state.missing.words).contains { $0 & $1 != 0 }
        }
    }

    /// Whether `peer`'s advertised set is the whole content, so there is nothing more to learn.
    func hasEverything(_ peer: PeerAddress) -> Bool {
        state.withLock { $0.peers[peer]?.has?.isFull ?? false }
    }

    /// Removes a peer: its availability no longer counts and what it was asked for is open again.
    func leave(_ peer: PeerAddress) {
        let nudges = state.withLock { state -> [@Sendable () -> Void] in
            guard let entry = state.peers.removeValue(forKey: peer) else { return [] }
            Self.count(entry, by: -1, in: &state)
            var reopened = false
            entry.requested.forEachCommon(with: nil, from: 0) { block in
                reopened = Self.release(block, in: &state) || reopened
                return true
            }
            return reopened ? state.peers.values.map(\.nudge) : []
        }
        nudges.forEach { $0() }
    }

    // MARK: Choosing

    /// Up to `budget` blocks for `peer` to send, as requests; empty when it has nothing this
    /// fetch needs that is not already asked of enough peers.
    func take(for peer: PeerAddress, budget: Int, now: ContinuousClock.Instant = .now) -> [Request] {
        guard budget > 0 else { return [] }
        let now = milliseconds(at: now)
        let spare = UInt32(clamping: Self.milliseconds(in: spareTime))
        return state.withLock { state in
            guard var entry = state.peers[peer], let has = entry.has else { return [] }
            var random = state.random
            defer { state.random = random }
            if entry.isLastResort {
                let chosen = unadvertisedOpen(in: state, budget: budget, random: &random)
                for block in chosen {
                    state.open.remove(block)
                    state.askedOf[block] += 1
                    entry.requested.insert(block)
                }
                state.peers[peer] = entry
                return requests(from: chosen)
            }
            var chosen: [Int]
            // Only a peer holding every block is spared, and only while some peers are still fetching.
            let holders = has.isFull ? Self.holders(in: state) : (complete: 0, partial: 0)
            if holders.partial > 0 {
                let completeHolders = holders.complete
                chosen = rarestOpen(in: state, has: has, budget: budget, random: &random) { state, block in
                    guard Int(state.availability[block]) > completeHolders else { return true }
                    let advertised = state.firstAdvertised[block]
                    // `now` was read before the lock: a block advertised since is not yet due.
                    return advertised != 0 && now >= advertised && now - advertised >= spare
                }
                // The peers still fetching are to send what is open; the endgame comes when nothing is.
                if chosen.isEmpty, !state.open.isEmpty { return [] }
            } else {
                chosen = rarestOpen(in: state, has: has, budget: budget, random: &random)
            }
            let isEndgame = chosen.isEmpty
            // Only a peer that has run dry takes copies, one request's worth: enough to finish
            // the tail or overtake a slow peer, little to waste.
            if isEndgame, entry.requested.isEmpty {
                chosen = endgameCandidates(in: state, peer: entry, has: has, budget: min(budget, blocksPerRequest), random: &random)
            }
            for block in chosen {
                if !isEndgame { state.open.remove(block) }
                state.askedOf[block] += 1
                entry.requested.insert(block)
            }
            state.peers[peer] = entry
            return requests(from: chosen)
        }
    }

    /// The open blocks `has` includes at the lowest availability seen in a sample, in runs of up
    /// to `blocksPerRequest` that each begin at a block picked uniformly among them.
    ///
    /// Fetchers sharing a source do not see each other's requests to it, only what each holds.
    /// A run begun at the first candidate after a random place would mostly begin where a block
    /// another fetcher holds is followed by one it does not: where that fetcher is at work, on
    /// blocks it has asked for and not yet announced. With three fetchers on one seeder, that
    /// made the seeder send about a tenth of the content twice.
    ///
    /// Only blocks `isEligible` accepts are candidates (all, by default).
    private func rarestOpen(
        in state: State, has: BlockSet, budget: Int, random: inout SplitMix64,
        isEligible: (State, Int) -> Bool = { _, _ in true }
    ) -> [Int] {
        let start = blockCount == 0 ? 0 : Int.random(in: 0..<blockCount, using: &random)
        var rarest = UInt16.max
        var looked = 0
        state.open.forEachCommon(with: has, from: start) { block in
            guard isEligible(state, block) else { return true }
            rarest = min(rarest, state.availability[block])
            looked += 1
            return looked < Self.sampleSize && rarest > 1
        }
        guard looked > 0 else { return [] }
        // What this choice took so far: at most `budget` blocks, so a set of them, not a bitmap
        // the size of the content.
        var taken = Set<Int>(minimumCapacity: budget)
        func isCandidate(_ block: Int) -> Bool {
            state.open.contains(block) && has.contains(block) && state.availability[block] <= rarest && !taken.contains(block)
                && isEligible(state, block)
        }
        var chosen: [Int] = []
        // Random probes find run starts while candidates are plentiful; once they are few, the
        // rest are taken in scan order (by then they are few for every fetcher).
        while chosen.count < budget,
              var block = Self.probe(64, below: blockCount, random: &random, where: isCandidate) {
            var run = 0
            repeat {
                chosen.append(block)
                taken.insert(block)
                run += 1
                block += 1
            } while chosen.count < budget && run < blocksPerRequest && block < blockCount && isCandidate(block)
        }
        if chosen.count < budget {
            state.open.forEachCommon(with: has, from: start) { block in
                if state.availability[block] <= rarest, !taken.contains(block), isEligible(state, block) { chosen.append(block) }
                return chosen.count < budget
            }
        }
        return chosen.sorted()
    }

    /// For a source of last resort: open blocks no peer advertises, one run of up to `budget`
    /// (a range request is for contiguous bytes) from a block picked uniformly among them; none
    /// while any peer's availability is unknown (it may have them). Fetchers drawing on one
    /// source know nothing of each other's requests to it, so a uniform pick is what keeps them
    /// from asking it for the same bytes: a run starting at the first such block after a random
    /// place would mostly start where a gap does, where another fetcher is likely at work.
    private func unadvertisedOpen(in state: State, budget: Int, random: inout SplitMix64) -> [Int] {
        guard blockCount > 0, !state.peers.values.contains(where: { $0.has == nil }) else { return [] }
        func isCandidate(_ block: Int) -> Bool { state.open.contains(block) && state.availability[block] == 0 }
        // Random probes find one while candidates are plentiful; when they are few, one pass
        // over the open blocks (few too, by then) picks among them.
        var first = Self.probe(64, below: blockCount, random: &random, where: isCandidate)
        if first == nil {
            var seen = 0
            state.open.forEachCommon(with: nil, from: 0) { block in
                guard state.availability[block] == 0 else { return true }
                seen += 1
                if Int.random(in: 0..<seen, using: &random) == 0 { first = block }
                return true
            }
        }
        guard let first else { return [] }
        var run = [first]
        while run.count < budget, let last = run.last, last + 1 < blockCount, isCandidate(last + 1) { run.append(last + 1) }
        return run
    }

    /// The first of up to `tries` blocks drawn uniformly below `count` that passes `test`.
    private static func probe(_ tries: Int, below count: Int, random: inout SplitMix64, where test: (Int) -> Bool) -> Int? {
        guard count > 0 else { return nil }
        for _ in 0..<tries {
            let block = Int.random(in: 0..<count, using: &random)
            if test(block) { return block }
        }
        return nil
    }

    /// Blocks asked of other peers that `peer` has and was not asked for, under the copy limit.
    private func endgameCandidates(in state: State, peer: Peer, has: BlockSet, budget: Int, random: inout SplitMix64) -> [Int] {
        var chosen: [Int] = []
        let start = blockCount == 0 ? 0 : Int.random(in: 0..<blockCount, using: &random)
        state.missing.forEachCommon(with: has, from: start) { block in
            if !peer.requested.contains(block), state.askedOf[block] < endgameCopies { chosen.append(block) }
            return chosen.count < budget
        }
        return chosen.sorted()
    }

    /// Runs of consecutive blocks in one segment, at most `blocksPerRequest` long.
    private func requests(from blocks: [Int]) -> [Request] {
        var requests: [Request] = []
        var run: [Int] = []
        var runSegment = -1
        func close() {
            if !run.isEmpty { requests.append(Request(segment: runSegment, blocks: run.map { $0 - firstBlock[runSegment] })) }
            run.removeAll()
        }
        for block in blocks {
            let segment = runSegment >= 0 && block >= firstBlock[runSegment] && block < firstBlock[runSegment + 1] ? runSegment : self.segment(of: block)
            if segment != runSegment || run.last != block - 1 || run.count == blocksPerRequest {
                close()
                runSegment = segment
            }
            run.append(block)
        }
        close()
        return requests
    }

    // MARK: Outcomes

    /// Records that `peer` delivered a block that was verified and kept. Other peers asked for
    /// it are nudged, to cancel.
    func delivered(segment: Int, block: Int, by peer: PeerAddress) {
        let number = number(segment: segment, block: block)
        let nudges = state.withLock { state -> [@Sendable () -> Void] in
            let wasMissing = state.missing.contains(number)
            state.missing.remove(number)
            state.open.remove(number)
            if state.peers[peer]?.requested.contains(number) == true {
                state.peers[peer]?.requested.remove(number)
                state.askedOf[number] -= 1
            }
            guard wasMissing, state.askedOf[number] > 0 else { return [] }
            return state.peers.filter { $0.key != peer && $0.value.requested.contains(number) }.map(\.value.nudge)
        }
        nudges.forEach { $0() }
    }

    /// Records that `peer` will not deliver these blocks (it lacks them, the request was
    /// cancelled, or it failed). With `lacking`, the peer no longer counts as having them.
    func returned(segment: Int, blocks: [Int], by peer: PeerAddress, lacking: Bool = false) {
        let nudges = state.withLock { state -> [@Sendable () -> Void] in
            guard var entry = state.peers[peer] else { return [] }
            var reopened = false
            for block in blocks {
                let number = number(segment: segment, block: block)
                if lacking, entry.has?.contains(number) == true {
                    entry.has?.remove(number)
                    // A source of last resort is not counted in availability.
                    if !entry.isLastResort { state.availability[number] -= 1 }
                }
                guard entry.requested.contains(number) else { continue }
                entry.requested.remove(number)
                reopened = Self.release(number, in: &state) || reopened
            }
            state.peers[peer] = entry
            return reopened ? state.peers.filter { $0.key != peer }.map(\.value.nudge) : []
        }
        nudges.forEach { $0() }
    }

    /// Whether a block is still wanted (not held yet).
    func isMissing(segment: Int, block: Int) -> Bool {
        let number = number(segment: segment, block: block)
        return state.withLock { $0.missing.contains(number) }
    }

    /// One fewer peer is asked for `block`; true when that makes a missing block open again.
    private static func release(_ block: Int, in state: inout State) -> Bool {
        state.askedOf[block] -= 1
        guard state.askedOf[block] == 0, state.missing.contains(block), !state.open.contains(block) else { return false }
        state.open.insert(block)
        return true
    }

    /// Counts (or, with -1, uncounts) `peer`'s blocks in the availability.
    private static func count(_ peer: Peer, by delta: Int, in state: inout State) {
        guard !peer.isLastResort else { return }
        count(peer.has, by: delta, in: &state.availability)
    }

    /// Peers whose availability is known, other than sources of last resort: how many hold every
    /// block, and how many do not.
    private static func holders(in state: State) -> (complete: Int, partial: Int) {
        var holders = (complete: 0, partial: 0)
        for peer in state.peers.values where !peer.isLastResort {
            guard let has = peer.has else { continue }
            if has.isFull { holders.complete += 1 } else { holders.partial += 1 }
        }
        return holders
    }

    private static func count(_ set: BlockSet?, by delta: Int, in availability: inout [UInt16]) {
        set?.forEachCommon(with: nil, from: 0) { block in
            availability[block] = UInt16(clamping: Int(availability[block]) + delta)
            return true
        }
    }
}

/// A small, fast generator (Steele, Lea and Flood's SplitMix64) for choices that need spread,
/// not secrecy.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
