import Collectives
import Foundation
import StraitsWire
import Transport

/// What this machine's cores do with a collective's bytes, measured: reducing, copying and
/// checksumming per byte on one thread, and how many threads' worth of that work the machine
/// gives when all its cores do it at once. The work is memory-bound, so that is less than the
/// core count when the cores share memory bandwidth (2 cores of a virtual machine here: 1.3–1.9).
///
/// The model of a local cluster, whose ranks and gateways share one machine, runs on these.
public struct HostCalibration: Sendable, Equatable {
    public var reduceSecondsPerByte: Double
    public var copySecondsPerByte: Double
    public var checksumSecondsPerByte: Double
    /// One thread's worth of the work is 1; `threads` threads at once give this many.
    public var cores: Double
    /// The threads run at once to measure `cores`.
    public var threads: Int

    public init(
        reduceSecondsPerByte: Double, copySecondsPerByte: Double, checksumSecondsPerByte: Double, cores: Double,
        threads: Int
    ) {
        self.reduceSecondsPerByte = reduceSecondsPerByte
        self.copySecondsPerByte = copySecondsPerByte
        self.checksumSecondsPerByte = checksumSecondsPerByte
        self.cores = cores
        self.threads = threads
    }

    /// Measures this machine: each kind of work alone on one thread, then the three in turn on
    /// one thread and on `threads` threads at once, `seconds` each, in `rounds` rounds (about
    /// `5 × seconds × rounds` in all). Each rate is the median of its rounds, and the cores the
    /// median of each round's ratio of the threads together to the one thread just before them:
    /// the model predicts the median of a cluster's iterations, on a machine that others share
    /// as they share it. Buffers are 32 MiB, larger than the caches, as a collective's are.
    public static func measure(
        threads: Int = ProcessInfo.processInfo.activeProcessorCount, seconds: Double = 0.04,
        rounds: Int = 5
    ) -> HostCalibration {
        let count = max(threads, 1)
        let workers = (0..<count).map { _ in Worker() }
        var reduce: [Double] = []
        var copy: [Double] = []
        var checksum: [Double] = []
        var ratios: [Double] = []
        for _ in 0..<max(rounds, 1) {
            reduce.append(workers[0].rate(of: .reduce, for: seconds))
            copy.append(workers[0].rate(of: .copy, for: seconds))
            checksum.append(workers[0].rate(of: .checksum, for: seconds))
            let single = workers[0].rate(of: nil, for: seconds)
            guard count > 1 else { continue }
            let rates = Rates(count: count)
            let group = DispatchGroup()
            for (index, worker) in workers.enumerated() {
                group.enter()
                Thread {
                    rates.set(index, worker.rate(of: nil, for: seconds))
                    group.leave()
                }.start()
            }
            group.wait()
            ratios.append(min(max(rates.total / single, 1), Double(count)))
        }
        return HostCalibration(
            reduceSecondsPerByte: 1 / reduce.median, copySecondsPerByte: 1 / copy.median,
            checksumSecondsPerByte: 1 / checksum.median, cores: count > 1 ? ratios.median : 1, threads: count)
    }

    private enum Kind: CaseIterable { case reduce, copy, checksum }

    /// Two 32 MiB buffers and the work done on them, 4 MiB at a time.
    private final class Worker: @unchecked Sendable {
        // Unchecked Sendable: each worker's buffers are used by one thread at a time.
        static let bytes = 32 << 20, block = 4 << 20
        let a: UnsafeMutableRawPointer, b: UnsafeMutableRawPointer
        /// The last checksum, kept so that the work is not optimised away.
        var sink: UInt32 = 0

        init() {
            a = .allocate(byteCount: Self.bytes, alignment: 64)
            b = .allocate(byteCount: Self.bytes, alignment: 64)
            memset(a, 0, Self.bytes)
            memset(b, 0, Self.bytes)
        }

        deinit {
            a.deallocate()
            b.deallocate()
        }

        /// Bytes per second of `kind` (nil: the three in turn, a block each) over `seconds`, at
        /// least one block.
        func rate(of kind: Kind?, for seconds: Double) -> Double {
            let start = ContinuousClock.now
            let window = Duration.milliseconds(Int64(seconds * 1000))
            var bytes = 0
            var checksum: UInt32 = 0
            var index = 0
            repeat {
                let offset = (index % (Self.bytes / Self.block)) * Self.block
                switch kind ?? Kind.allCases[index % 3] {
                case .reduce: ReductionKernel.sum(into: a + offset, from: b + offset, count: Self.block / 4)
                case .copy: memcpy(a + offset, b + offset, Self.block)
                case .checksum:
                    checksum ^= CRC32C.checksum(UnsafeRawBufferPointer(start: b + offset, count: Self.block))
                }
                bytes += Self.block
                index += 1
            } while ContinuousClock.now - start < window
            let elapsed = ContinuousClock.now - start
            sink = checksum
            return Double(bytes) / elapsed.inSeconds
        }
    }

    private final class Rates: @unchecked Sendable {
        // Unchecked Sendable: each thread writes its own slot under the lock.
        private let lock = NSLock()
        private var values: [Double]

        init(count: Int) { values = Array(repeating: 0, count: count) }

        func set(_ index: Int, _ value: Double) {
            lock.lock()
            values[index] = value
            lock.unlock()
        }

        var total: Double {
            lock.lock()
            defer { lock.unlock() }
            return values.reduce(0, +)
        }
    }
}
