import Dispatch
import Synchronization

/// Runs numbered tasks on a fixed number of threads, each thread taking the next task as it
/// finishes one, so a slow core never holds the others back. Results go wherever the tasks write
/// them (by index), which keeps output order independent of timing.
///
/// Package-wide: publishing hashes a file's regions with it, and a mirror's scan its files.
package enum WorkerPool {
    /// Runs `body(task, worker)` for every task in `0..<taskCount`; rethrows the first error, after
    /// which no new task starts.
    package static func run<Failure: Error>(
        tasks taskCount: Int, workers: Int,
        _ body: @Sendable (_ task: Int, _ worker: Int) throws(Failure) -> Void
    ) throws(Failure) {
        try run(tasks: taskCount, workers: workers, state: { worker in worker }) { (task, worker: inout Int) throws(Failure) in
            try body(task, worker)
        }
    }

    /// Like `run(tasks:workers:_:)`, with state each worker makes once and keeps from one task to
    /// the next (a read buffer, the directory it opened last).
    package static func run<WorkerState: ~Copyable, Failure: Error>(
        tasks taskCount: Int, workers: Int,
        state makeState: @Sendable (_ worker: Int) -> WorkerState,
        _ body: @Sendable (_ task: Int, _ state: inout WorkerState) throws(Failure) -> Void
    ) throws(Failure) {
        let workers = max(1, min(workers, taskCount))
        let shared = Shared<Failure>()
        if workers == 1 {
            var state = makeState(0)
            shared.work(taskCount: taskCount, state: &state, body)
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                var state = makeState(worker)
                shared.work(taskCount: taskCount, state: &state, body)
            }
        }
        if let error = shared.failure.withLock({ $0 }) { throw error }
    }

    private final class Shared<Failure: Error>: Sendable {
        let next = Atomic<Int>(0)
        let failure = PThreadMutex<Failure?>(nil)

        func work<WorkerState: ~Copyable>(
            taskCount: Int, state: inout WorkerState, _ body: (_ task: Int, _ state: inout WorkerState) throws(Failure) -> Void
        ) {
            while true {
                let task = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard task < taskCount else { return }
                do throws(Failure) {
                    try body(task, &state)
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                    next.store(taskCount, ordering: .relaxed)
                    return
                }
            }
        }
    }
}
