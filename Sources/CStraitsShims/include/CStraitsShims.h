#ifndef STRAITS_SHIMS_H
#define STRAITS_SHIMS_H

#include <stdint.h>
#include <stddef.h>

/// Creates a non-blocking, close-on-exec eventfd with a zero counter. Returns -1 and sets errno on failure.
int straits_eventfd_create(void);
/// Adds 1 to the eventfd counter. Returns 0, or -1 with errno.
int straits_eventfd_signal(int fd);
/// Reads and clears the eventfd counter without blocking. Returns the count, 0 when it was zero.
uint64_t straits_eventfd_drain(int fd);

/// Pins the calling thread to the given CPUs (CPU_ZERO/CPU_SET + sched_setaffinity).
/// Returns 0, or -1 with errno (EINVAL when no CPU in the list exists).
int straits_pin_current_thread(const int32_t *cpus, size_t count);
/// Writes the CPUs the calling thread may run on into `cpus` (at most `capacity`).
/// Returns how many there are (possibly more than `capacity`), or -1 with errno.
int straits_current_thread_affinity(int32_t *cpus, size_t capacity);
/// The CPU the calling thread runs on now (sched_getcpu), or -1 with errno.
int straits_current_cpu(void);
/// The kernel thread id of the calling thread (gettid).
int32_t straits_current_thread_id(void);
/// The last errno of the calling thread.
int straits_errno(void);

/// Sets the calling thread's timer slack (prctl PR_SET_TIMERSLACK), so timed sleeps end within
/// `nanoseconds` of their deadline instead of the default 50 µs. Returns 0, or -1 with errno.
int straits_set_timer_slack(unsigned long nanoseconds);

/// Waits until one of `count` (at most 8) descriptors is readable or `timeout_ns` nanoseconds
/// pass (ppoll; negative: no limit). Returns a bit mask of the readable ones (bit i: fds[i]),
/// 0 on timeout, or -1 with errno (EINTR included).
int straits_wait_readable(const int *fds, int count, int64_t timeout_ns);

/// A non-blocking timerfd on CLOCK_MONOTONIC, or -1 with errno.
int straits_timerfd_create(void);
/// Arms `fd` to fire once at `at_ns` (CLOCK_MONOTONIC, absolute; a time past fires at once),
/// with no slack. Returns 0, or -1 with errno.
int straits_timerfd_arm(int fd, int64_t at_ns);

/// Names the calling thread (prctl PR_SET_NAME; 15 bytes kept), as `ps -L` and `perf` show it.
/// Returns 0, or -1 with errno.
int straits_set_thread_name(const char *name);

/// Moves the calling thread to SCHED_FIFO at `priority` (1–99), so it runs as soon as it wakes.
/// Returns 0, or an errno value (EPERM without the privilege).
int straits_set_realtime(int priority);

/// Moves the calling thread back to SCHED_OTHER. Returns 0, or an errno value.
int straits_set_normal_priority(void);

/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78) of `count` bytes, continuing from
/// `crc` (0 to start). Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise.
uint32_t straits_crc32c(uint32_t crc, const void *bytes, size_t count);

/// Opens (creating it if absent) the shared-memory file `name` under /dev/shm, sized to `bytes`
/// (a new file reads as zeros, its pages allocated: ENOSPC where /dev/shm has no room; one of
/// another size is refused with EEXIST), and maps it shared for reading and writing. Returns the
/// mapping, or NULL with errno.
void *straits_shm_map(const char *name, size_t bytes);
/// Unmaps a mapping made by straits_shm_map.
void straits_shm_unmap(void *address, size_t bytes);
/// Removes the shared-memory file `name` (mappings stay valid). Returns 0, or -1 with errno.
int straits_shm_unlink(const char *name);

/// Sequentially consistent and acquire/release operations on words in shared memory.
uint64_t straits_load_acquire_u64(const uint64_t *word);
void straits_store_release_u64(uint64_t *word, uint64_t value);
uint32_t straits_load_acquire_u32(const uint32_t *word);
void straits_store_u32(uint32_t *word, uint32_t value);
/// Adds `value`; returns the value before.
uint32_t straits_fetch_add_u32(uint32_t *word, uint32_t value);
/// A full barrier (between a store and a load of another word).
void straits_fence(void);
/// Waits while `*word == expected`, at most `timeout_ns` (a process-shared futex). Returns 0 when
/// woken or when the word differed, -1 with errno ETIMEDOUT or EINTR.
int straits_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);
/// Wakes every waiter on `word`. Returns how many, or -1 with errno.
int straits_futex_wake(uint32_t *word);
/// A pause for a spinning loop (the x86 PAUSE instruction).
void straits_cpu_relax(void);

/// A TCP listener on `host` (numeric IPv4 or IPv6) and `port` (0: the kernel picks), non-blocking,
/// close-on-exec, with SO_REUSEADDR. Writes the port bound to `*bound`. Returns the descriptor, or
/// -1 with errno.
int straits_tcp_listen(const char *host, int port, int *bound);
/// Accepts one connection from a listener, non-blocking, close-on-exec, with TCP_NODELAY.
/// Returns the descriptor, or -1 with errno (EAGAIN when none waits).
int straits_tcp_accept(int listener);
/// Connects to `host` (a name or a numeric address) and `port`, waiting at most `timeout_ms`,
/// then makes the descriptor non-blocking, with TCP_NODELAY. Returns it, or -1 with errno.
int straits_tcp_connect(const char *host, int port, int timeout_ms);
/// Waits until one of `count` (at most 256) descriptors is ready for what `events` asks (POLLIN,
/// POLLOUT) or `timeout_ns` pass (negative: no limit); writes what each is ready for to
/// `revents`. Returns how many are ready, 0 on timeout, or -1 with errno.
int straits_poll(const int *fds, const short *events, short *revents, int count, int64_t timeout_ns);

#endif
