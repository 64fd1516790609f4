import Dispatch
import Synchronization

/// Runs numbered tasks on a fixed number of threads, each thread taking the next task as it
/// finishes one, so a slow core never holds the others back. Results go wherever the tasks write
/// them (by index), which keeps output order independent of timing.
enum WorkerPool {
    /// Runs `body(task, worker)` for every task in `0..<taskCount`; rethrows the first error, after
    /// which no new task starts.
    static func run<Failure: Error>(
        tasks taskCount: Int, workers: Int,
        _ body: @Sendable (_ task: Int, _ worker: Int) throws(Failure) -> Void
    ) throws(Failure) {
        let workers = max(1, min(workers, taskCount))
        let state = State<Failure>()
        if workers == 1 {
            state.work(worker: 0, taskCount: taskCount, body)
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                state.work(worker: worker, taskCount: taskCount, body)
            }
        }
        if let error = state.failure.withLock({ $0 }) { throw error }
    }

    private final class State<Failure: Error>: Sendable {
        let next = Atomic<Int>(0)
        let failure = Mutex<Failure?>(nil)

        func work(worker: Int, taskCount: Int, _ body: (_ task: Int, _ worker: Int) throws(Failure) -> Void) {
            while true {
                let task = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard task < taskCount else { return }
                do throws(Failure) {
                    try body(task, worker)
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                    next.store(taskCount, ordering: .relaxed)
                    return
                }
            }
        }
    }
}
