import CNUMA
import CStraitsShims
import Glibc

// The one place where libnuma and the affinity system calls are called. libnuma's rule is that
// `numa_available()` must succeed before any other numa_* function is used; `NUMASystem.isAvailable`
// checks it once, and every other wrapper here runs only when it said yes.

enum NUMASystem {
    /// Whether the kernel and libnuma support NUMA calls on this machine.
    ///
    /// The corresponding C function is `numa_available`.
    static let isAvailable: Bool = numa_available() >= 0

    /// The highest node number, or nil where libnuma is unavailable.
    ///
    /// The corresponding C function is `numa_max_node`.
    static func maxNode() -> Int? {
        guard isAvailable else { return nil }
        return Int(numa_max_node())
    }

    /// The CPUs of `node`, from the kernel's node-to-CPU map.
    ///
    /// The corresponding C function is `numa_node_to_cpus`.
    static func cpus(ofNode node: Int) throws(NUMAError) -> [Int] {
        guard let mask = numa_allocate_cpumask() else {
            throw NUMAError(code: .outOfMemory, operation: "numa_allocate_cpumask", detail: "node \(node)")
        }
        defer { numa_free_cpumask(mask) }
        if numa_node_to_cpus(Int32(node), mask) != 0 {
            throw NUMAError(code: .system(straits_errno()), operation: "numa_node_to_cpus", detail: "node \(node)")
        }
        let possible = Int(numa_num_possible_cpus())
        return (0..<possible).filter { numa_bitmask_isbitset(mask, UInt32($0)) != 0 }
    }

    /// The relative distance between two nodes (10 = local), as the firmware reports it.
    ///
    /// The corresponding C function is `numa_distance`.
    static func distance(_ from: Int, _ to: Int) -> Int {
        let value = Int(numa_distance(Int32(from), Int32(to)))
        return value > 0 ? value : (from == to ? 10 : 20)
    }

    /// The memory of `node` in bytes.
    ///
    /// The corresponding C function is `numa_node_size64`.
    static func memoryBytes(ofNode node: Int) -> Int {
        max(0, Int(numa_node_size64(Int32(node), nil)))
    }

    /// Page-aligned memory bound to `node`, or the first-touch fallback where NUMA is unavailable.
    ///
    /// The corresponding C functions are `numa_alloc_onnode` and `mmap`.
    static func allocate(byteCount: Int, node: Int) throws(NUMAError) -> UnsafeMutableRawPointer {
        let length = max(byteCount, 1)
        if isAvailable {
            guard let memory = numa_alloc_onnode(length, Int32(node)) else {
                throw NUMAError(
                    code: .outOfMemory, operation: "numa_alloc_onnode", detail: "\(byteCount) bytes on node \(node)")
            }
            return memory
        }
        let memory = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let memory, memory != MAP_FAILED else {
            throw NUMAError(code: .outOfMemory, operation: "mmap", detail: "\(byteCount) bytes")
        }
        return memory
    }

    /// Frees memory from `allocate(byteCount:node:)`.
    ///
    /// The corresponding C functions are `numa_free` and `munmap`.
    static func free(_ memory: UnsafeMutableRawPointer, byteCount: Int) {
        let length = max(byteCount, 1)
        if isAvailable {
            numa_free(memory, length)
        } else {
            munmap(memory, length)
        }
    }

    /// The node that holds the page at `address` (it must have been touched), or nil if unknown.
    ///
    /// The corresponding C function is `numa_move_pages` (with no target nodes: a query).
    static func nodeOfPage(at address: UnsafeRawPointer) -> Int? {
        guard isAvailable else { return nil }
        var page: UnsafeMutableRawPointer? = UnsafeMutableRawPointer(mutating: address)
        var status: Int32 = -1
        guard numa_move_pages(0, 1, &page, nil, &status, 0) == 0, status >= 0 else { return nil }
        return Int(status)
    }

    /// Restricts the calling thread to `cpus`.
    ///
    /// The corresponding C function is `sched_setaffinity` (through `CPU_SET`).
    static func pinCurrentThread(to cpus: [Int]) throws(NUMAError) {
        let list = cpus.map { Int32($0) }
        let status = list.withUnsafeBufferPointer { straits_pin_current_thread($0.baseAddress, $0.count) }
        if status != 0 {
            throw NUMAError(code: .system(straits_errno()), operation: "sched_setaffinity", detail: "CPUs \(cpus)")
        }
    }

    /// The CPUs the calling thread may run on.
    ///
    /// The corresponding C function is `sched_getaffinity`.
    static func currentAffinity() throws(NUMAError) -> [Int] {
        var cpus = [Int32](repeating: 0, count: 4096)
        let found = straits_current_thread_affinity(&cpus, cpus.count)
        if found < 0 {
            throw NUMAError(code: .system(straits_errno()), operation: "sched_getaffinity", detail: "calling thread")
        }
        return cpus.prefix(Int(found)).map { Int($0) }
    }

    /// The CPU the calling thread runs on now.
    ///
    /// The corresponding C function is `sched_getcpu`.
    static func currentCPU() -> Int? {
        let cpu = straits_current_cpu()
        return cpu >= 0 ? Int(cpu) : nil
    }

    /// The CPUs online on this machine, for the fallback topology.
    static func onlineCPUs() -> [Int] {
        if let allowed = try? currentAffinity(), !allowed.isEmpty { return allowed }
        return Array(0..<max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Physical memory in bytes, for the fallback topology.
    static func physicalMemoryBytes() -> Int {
        sysconf(Int32(_SC_PHYS_PAGES)) * sysconf(Int32(_SC_PAGESIZE))
    }
}
