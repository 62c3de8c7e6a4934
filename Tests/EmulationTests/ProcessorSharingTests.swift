import Emulation
import Testing

/// The cores as a processor-sharing resource under a manual clock: every time is exact.
@Suite("processor sharing, manual clock")
struct ProcessorSharingTests {
    static let ms: Int64 = 1_000_000

    /// Every completion until the resource is idle, as [job, time in ms].
    static func drain(_ cores: inout ProcessorSharing) -> [[Int64]] {
        var done: [[Int64]] = []
        while let next = cores.nextCompletion { done += cores.advance(to: next).map { [Int64($0.job), $0.at / ms] } }
        return done
    }

    /// Jobs 1, 2, … (each its own owner; work in ms, parallelism) offered at 0 on `cores`, run to
    /// the end: [job, time in ms] of each completion.
    static func run(cores: Double, _ jobs: [(work: Int64, parallelism: Double)]) -> [[Int64]] {
        var resource = ProcessorSharing(cores: cores)
        for (index, job) in jobs.enumerated() {
            resource.offer(
                job: index + 1, owner: index + 1, work: Double(job.work * ms), parallelism: job.parallelism, now: 0)
        }
        return drain(&resource)
    }

    @Test("a lone job takes its work; two jobs on one core take twice as long, and end together")
    func sharing() {
        #expect(Self.run(cores: 1, [(10, 1)]) == [[1, 10]])
        #expect(Self.run(cores: 1, [(10, 1), (10, 1)]) == [[1, 20], [2, 20]])
    }

    @Test("more cores than jobs: each job runs at one core, no faster")
    func capped() {
        #expect(Self.run(cores: 4, [(10, 1), (30, 1)]) == [[1, 10], [2, 30]])
    }

    @Test("a job of parallelism 2 takes two cores when they are free, and what the others leave when not")
    func parallelism() {
        #expect(Self.run(cores: 2, [(20, 2)]) == [[1, 10]])
        // 1.5 cores: the serial job gets 0.75 (an even share), the parallel one the other 0.75.
        // Job 1 ends at 20 ms; then job 2 (15 ms of work left) runs alone at 1 core: 35 ms.
        #expect(Self.run(cores: 1.5, [(15, 2), (30, 1)]) == [[1, 20], [2, 35]])
    }

    @Test("the work done is what the jobs needed, however they shared the cores, and nothing while idle")
    func workDone() {
        var resource = ProcessorSharing(cores: 1.5)
        resource.offer(job: 1, owner: 1, work: Double(15 * Self.ms), parallelism: 2, now: 0)
        resource.offer(job: 2, owner: 2, work: Double(30 * Self.ms), now: 0)
        _ = resource.advance(to: 10 * Self.ms)
        // 10 ms at 1.5 cores.
        #expect(abs(resource.workDone - Double(15 * Self.ms)) < 1)
        _ = Self.drain(&resource)
        _ = resource.advance(to: 100 * Self.ms)
        #expect(abs(resource.workDone - Double(45 * Self.ms)) < 1)
    }

    @Test("an owner's jobs run one after another, and a job offered later joins the sharing from then")
    func owners() {
        var cores = ProcessorSharing(cores: 1)
        cores.offer(job: 1, owner: 7, work: Double(10 * Self.ms), now: 0)
        cores.offer(job: 2, owner: 7, work: Double(10 * Self.ms), now: 0)
        #expect(cores.running == 1)
        // Alone until 5 ms; job 3 of another owner then halves its rate.
        #expect(cores.advance(to: 5 * Self.ms).isEmpty)
        cores.offer(job: 3, owner: 8, work: Double(5 * Self.ms), now: 5 * Self.ms)
        // Jobs 1 and 3 each have 5 ms left at half a core: both end at 15 ms; job 2 then alone.
        #expect(Self.drain(&cores) == [[1, 15], [3, 15], [2, 25]])
    }
}
