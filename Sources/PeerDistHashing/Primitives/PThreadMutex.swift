#if canImport(Glibc)
import Glibc
#endif

/// A value behind a lock, like `Synchronization.Mutex`, over a `pthread_mutex_t`.
///
/// On Linux, `Mutex` waits on a priority-inheriting futex: when it is contended, the kernel hands
/// the lock from the releasing thread to a waiting one (`FUTEX_UNLOCK_PI`, `FUTEX_LOCK_PI`, in the
/// standard library, which is not instrumented), so ThreadSanitizer sees no synchronisation
/// between the two holders and reports the state they share as a data race. ThreadSanitizer
/// intercepts `pthread_mutex_lock` and `pthread_mutex_unlock`, so state behind this lock is
/// checked for real. Every lock of the package that guards Swift state is one of these, so that a
/// ThreadSanitizer run reports real races only; `Mutex` stays where it guards nothing (a turn).
package final class PThreadMutex<Value: ~Copyable> {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Apart from the object, so that its accesses are plain memory accesses under the lock
    /// (not exclusivity checks of a stored property, which ThreadSanitizer treats on their own).
    private let value: UnsafeMutablePointer<Value>

    /// Like `Mutex.init`: the value is handed over to the lock.
    package init(_ value: consuming sending Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        self.value = .allocate(capacity: 1)
        self.value.initialize(to: value)
    }

    deinit {
        value.deinitialize(count: 1)
        value.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value while holding the lock. As with `Mutex.withLock`, what goes in
    /// and out is `sending`, so the lock is `Sendable` whatever the value.
    package func withLock<Result, Failure: Error>(_ body: (inout sending Value) throws(Failure) -> sending Result) throws(Failure) -> sending Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value.pointee)
    }
}

extension PThreadMutex: @unchecked Sendable where Value: ~Copyable {}
