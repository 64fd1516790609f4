import Testing
@testable import PeerDist

@Suite struct RateLimiterTests {
    @Test func reservationsQueueUpAtTheRate() {
        let limiter = RateLimiter(bytesPerSecond: 1_000_000)
        let start = ContinuousClock.now
        // The first megabyte goes at once; each further one waits a second more.
        #expect(limiter.reserve(1_000_000, now: start) == .zero)
        #expect(limiter.reserve(1_000_000, now: start) == .seconds(1))
        #expect(limiter.reserve(500_000, now: start) == .seconds(2))
        // Two connections asking at the same moment share the rate in turn.
        #expect(limiter.reserve(500_000, now: start + .seconds(1)) == .milliseconds(1500))
    }

    @Test func idleTimeIsNotSavedUp() {
        let limiter = RateLimiter(bytesPerSecond: 1_000)
        let start = ContinuousClock.now
        #expect(limiter.reserve(1_000, now: start) == .zero)
        // Long after the last reservation ran out, a new one goes at once but no faster than the rate.
        #expect(limiter.reserve(1_000, now: start + .seconds(60)) == .zero)
        #expect(limiter.reserve(1_000, now: start + .seconds(60)) == .seconds(1))
    }
}
