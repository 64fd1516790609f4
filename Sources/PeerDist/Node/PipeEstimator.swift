/// Sizes the window of blocks kept requested from one peer: enough to keep its pipe full while
/// a reply makes its way back, and no more, so a slow peer does not sit on blocks a fast one
/// could send.
///
/// The window is twice the bandwidth-delay product: the peer's delivery rate times the shortest
/// time seen from a request to its first block (the round trip without queueing), plus `slack`
/// for the peer's own batching and scheduling. While the pipe is not full, replies come back at
/// that shortest delay and the window grows; once full, requests queue at the peer, the rate
/// stops rising, and the window settles at about one round trip of queue.
struct PipeEstimator: Sendable {
    let blockSize: Int
    let minimum: Int
    let maximum: Int
    /// Time allowed on top of the measured round trip for the peer's batching.
    var slack: Duration = .milliseconds(10)
    /// How long a rate sample covers.
    var sampleInterval: Duration = .milliseconds(200)

    private(set) var shortestDelay: Duration?
    /// Bytes per second, smoothed over a few samples.
    private(set) var rate: Double?
    private var sampleStart: ContinuousClock.Instant?
    private var sampleBytes = 0

    init(blockSize: Int, minimum: Int = 8, maximum: Int = 256, initial: Int = 32) {
        self.blockSize = max(1, blockSize)
        self.minimum = minimum
        self.maximum = max(minimum, maximum)
        self.window = min(max(initial, minimum), self.maximum)
    }

    /// Blocks to keep requested.
    private(set) var window: Int

    /// The first block of a request arrived `delay` after the request was sent.
    mutating func firstBlock(after delay: Duration) {
        shortestDelay = min(shortestDelay ?? delay, delay)
        resize()
    }

    /// `bytes` of blocks arrived at `now`.
    mutating func delivered(_ bytes: Int, at now: ContinuousClock.Instant) {
        guard let start = sampleStart else {
            sampleStart = now
            sampleBytes = 0
            return
        }
        sampleBytes += bytes
        let elapsed = now - start
        guard elapsed >= sampleInterval else { return }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let sample = Double(sampleBytes) / seconds
        // Rising rates are taken at once (the window must not hold growth back); falling ones slowly.
        rate = rate.map { sample > $0 ? sample : 0.75 * $0 + 0.25 * sample } ?? sample
        sampleStart = now
        sampleBytes = 0
        resize()
    }

    /// The sampling pauses while nothing is asked of the peer, so idle time is not counted as slowness.
    mutating func idle() {
        sampleStart = nil
    }

    private mutating func resize() {
        guard let rate, let shortestDelay else { return }
        let delay = shortestDelay + slack
        let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
        let blocks = Int((2 * rate * seconds / Double(blockSize)).rounded(.up))
        window = min(max(blocks, minimum), maximum)
    }
}
