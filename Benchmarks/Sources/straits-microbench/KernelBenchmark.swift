import Collectives
import Foundation

/// Swift's `ReductionKernel.sum` against the C loop `dst[i] += src[i]` (gcc -O3 -march=native),
/// loaded from a shared library into this process and run on the very same buffers.
///
/// GB/s counts the memory traffic of the sum: 3 × 4 bytes per element (read dst, read src,
/// write dst), in 1e9 B/s.
struct KernelBenchmark {
    typealias ReferenceSum = @convention(c) (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void

    let reference: ReferenceSum
    let sizes: [Int]
    let trials: Int

    init(arguments: Options) throws {
        let path = try arguments.string("reference")
        guard let library = dlopen(path, RTLD_NOW) else {
            throw BenchmarkError("dlopen(\(path)): \(String(cString: dlerror()))")
        }
        guard let symbol = dlsym(library, "reference_sum") else {
            throw BenchmarkError("dlsym(reference_sum) in \(path): \(String(cString: dlerror()))")
        }
        reference = unsafeBitCast(symbol, to: ReferenceSum.self)
        sizes = try arguments.sizes("sizes", default: "256K,4M,64M")
        trials = try arguments.int("trials", default: 15)
    }

    func run() throws {
        print(
            "float32 sum kernel: dst[i] += src[i]; GB/s = 12 bytes of traffic per element / time; median of \(trials) interleaved trials"
        )
        print("size       offset  Swift GB/s   C GB/s   Swift/C")
        for size in sizes {
            // Page-aligned, then 8 bytes off (how payload frames arrive).
            for offset in [0, 8] {
                let (swift, c) = measure(bytes: size, offset: offset)
                print(pad(formatSize(size), 10), String(format: "%6d %11.2f %9.2f %8.3f", offset, swift, c, swift / c))
            }
        }
    }

    private func measure(bytes: Int, offset: Int) -> (swift: Double, c: Double) {
        let count = bytes / 4
        let dst = UnsafeMutableRawPointer.allocate(byteCount: bytes + 64, alignment: 4096)
        let src = UnsafeMutableRawPointer.allocate(byteCount: bytes + 64, alignment: 4096)
        defer {
            dst.deallocate()
            src.deallocate()
        }
        let dstFloats = (dst + offset).bindMemory(to: Float.self, capacity: count)
        let srcFloats = (src + offset).bindMemory(to: Float.self, capacity: count)
        for index in 0..<count {
            dstFloats[index] = Float(index % 101)
            srcFloats[index] = 0.25
        }
        let swiftSum = { ReductionKernel.sum(into: dst + offset, from: src + offset, count: count) }
        let cSum = { reference(dstFloats, srcFloats, count) }
        // Repeat each trial enough times to last about 20 ms.
        let start = ContinuousClock.now
        swiftSum()
        let once = max(seconds(ContinuousClock.now - start), 1e-7)
        let repeats = max(1, Int(0.02 / once))
        var swiftRates: [Double] = []
        var cRates: [Double] = []
        for trial in 0..<trials {
            for (body, isSwift) in trial % 2 == 0
                ? [(swiftSum, true), (cSum, false)] : [(cSum, false), (swiftSum, true)]
            {
                let begin = ContinuousClock.now
                for _ in 0..<repeats { body() }
                let rate = Double(12 * count * repeats) / seconds(ContinuousClock.now - begin) / 1e9
                if isSwift { swiftRates.append(rate) } else { cRates.append(rate) }
            }
        }
        return (median(swiftRates), median(cRates))
    }
}
