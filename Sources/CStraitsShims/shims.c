#define _GNU_SOURCE
#include "CStraitsShims.h"

#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <sched.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

int straits_eventfd_create(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

int straits_eventfd_signal(int fd) {
    uint64_t one = 1;
    for (;;) {
        ssize_t n = write(fd, &one, sizeof one);
        if (n == (ssize_t)sizeof one) return 0;
        if (n < 0 && errno == EINTR) continue;
        /* EAGAIN: the counter is saturated, so the reader is woken anyway. */
        if (n < 0 && errno == EAGAIN) return 0;
        return -1;
    }
}

uint64_t straits_eventfd_drain(int fd) {
    uint64_t value = 0;
    for (;;) {
        ssize_t n = read(fd, &value, sizeof value);
        if (n == (ssize_t)sizeof value) return value;
        if (n < 0 && errno == EINTR) continue;
        return 0;
    }
}

int straits_pin_current_thread(const int32_t *cpus, size_t count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (size_t i = 0; i < count; i++) {
        if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) { errno = EINVAL; return -1; }
        CPU_SET(cpus[i], &set);
    }
    return sched_setaffinity(0, sizeof set, &set);
}

int straits_current_thread_affinity(int32_t *cpus, size_t capacity) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    int found = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &set)) {
            if ((size_t)found < capacity) cpus[found] = cpu;
            found++;
        }
    }
    return found;
}

int straits_current_cpu(void) { return sched_getcpu(); }

int32_t straits_current_thread_id(void) { return (int32_t)syscall(SYS_gettid); }

int straits_errno(void) { return errno; }

// CRC32C: hardware path (SSE4.2, three independent streams would be faster still; one stream
// runs at about 8 bytes per 3 cycles) and a byte-table fallback, chosen once at run time.
static uint32_t crc32c_table[256];
static int crc32c_mode = 0; // 0 table, 1 hardware
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc32c_table[i] = c;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    crc32c_mode = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
    crc32c_mode = 0;
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t word;
        __builtin_memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

uint32_t straits_crc32c(uint32_t crc, const void *bytes, size_t count) {
    pthread_once(&crc32c_once, crc32c_init);
    const unsigned char *p = bytes;
    crc = ~crc;
#if defined(__x86_64__)
    if (crc32c_mode == 1) return ~crc32c_hw(crc, p, count);
#endif
    while (count--) crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

int straits_set_timer_slack(unsigned long nanoseconds) {
    return prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0);
}

int straits_wait_readable(const int *fds, int count, int64_t timeout_ns) {
    struct pollfd polled[8];
    if (count < 0 || count > 8) { errno = EINVAL; return -1; }
    for (int i = 0; i < count; i++) polled[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    struct timespec timeout = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
    int ready = ppoll(polled, (nfds_t)count, timeout_ns < 0 ? NULL : &timeout, NULL);
    if (ready <= 0) return ready;
    int mask = 0;
    for (int i = 0; i < count; i++) if (polled[i].revents) mask |= 1 << i;
    return mask;
}

int straits_timerfd_create(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
}

int straits_timerfd_arm(int fd, int64_t at_ns) {
    if (at_ns <= 0) at_ns = 1;  /* 0 would disarm it */
    struct itimerspec spec = {.it_value = {.tv_sec = at_ns / 1000000000, .tv_nsec = at_ns % 1000000000}};
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

int straits_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, name, 0, 0, 0);
}

int straits_set_realtime(int priority) {
    struct sched_param param = { .sched_priority = priority };
    return pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
}

int straits_set_normal_priority(void) {
    struct sched_param param = { .sched_priority = 0 };
    return pthread_setschedparam(pthread_self(), SCHED_OTHER, &param);
}


void *straits_shm_map(const char *name, size_t bytes) {
    char path[256];
    if (snprintf(path, sizeof path, "/dev/shm/%s", name) >= (int)sizeof path) { errno = ENAMETOOLONG; return NULL; }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) { int e = errno; close(fd); errno = e; return NULL; }
    /* Both ends create the file if absent; the first one to get here sizes it, and allocates its
       pages, so that a file larger than /dev/shm has room for fails here (ENOSPC), not with a
       SIGBUS at the first access to a page beyond it. */
    if (st.st_size == 0) {
        int e = ftruncate(fd, (off_t)bytes) != 0 ? errno : posix_fallocate(fd, 0, (off_t)bytes);
        /* Back to empty, so that the other end sizes it (and fails) itself rather than mapping
           pages that are not there. */
        if (e != 0) { (void)ftruncate(fd, 0); close(fd); errno = e; return NULL; }
    }
    if (fstat(fd, &st) != 0 || (size_t)st.st_size != bytes) { close(fd); errno = EEXIST; return NULL; }
    void *address = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    int e = errno;
    close(fd);
    if (address == MAP_FAILED) { errno = e; return NULL; }
    return address;
}

void straits_shm_unmap(void *address, size_t bytes) { munmap(address, bytes); }

int straits_shm_unlink(const char *name) {
    char path[256];
    if (snprintf(path, sizeof path, "/dev/shm/%s", name) >= (int)sizeof path) { errno = ENAMETOOLONG; return -1; }
    return unlink(path);
}

uint64_t straits_load_acquire_u64(const uint64_t *word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }
void straits_store_release_u64(uint64_t *word, uint64_t value) { __atomic_store_n(word, value, __ATOMIC_RELEASE); }
uint32_t straits_load_acquire_u32(const uint32_t *word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }
void straits_store_u32(uint32_t *word, uint32_t value) { __atomic_store_n(word, value, __ATOMIC_SEQ_CST); }
uint32_t straits_fetch_add_u32(uint32_t *word, uint32_t value) {
    return __atomic_fetch_add(word, value, __ATOMIC_SEQ_CST);
}
void straits_fence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

int straits_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    struct timespec timeout = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
    long rc = syscall(SYS_futex, word, FUTEX_WAIT, expected, timeout_ns < 0 ? NULL : &timeout, NULL, 0);
    if (rc == -1 && errno == EAGAIN) return 0;
    return rc == 0 ? 0 : -1;
}

int straits_futex_wake(uint32_t *word) { return (int)syscall(SYS_futex, word, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0); }

void straits_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void straits_nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int straits_tcp_listen(const char *host, int port, int *bound) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
    struct addrinfo *found = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &found);
    if (rc != 0) { errno = EINVAL; return -1; }
    int fd = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { freeaddrinfo(found); return -1; }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, 256) != 0) {
        int e = errno; close(fd); freeaddrinfo(found); errno = e; return -1;
    }
    freeaddrinfo(found);
    struct sockaddr_storage address;
    socklen_t length = sizeof address;
    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0) { int e = errno; close(fd); errno = e; return -1; }
    *bound = address.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&address)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&address)->sin_port);
    return fd;
}

int straits_tcp_accept(int listener) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) straits_nodelay(fd);
    return fd;
}

int straits_tcp_connect(const char *host, int port, int timeout_ms) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &found) != 0) { errno = EHOSTUNREACH; return -1; }
    int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { freeaddrinfo(found); return -1; }
    struct timeval timeout = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
        int e = errno; close(fd); freeaddrinfo(found); errno = e == EINPROGRESS ? ETIMEDOUT : e; return -1;
    }
    freeaddrinfo(found);
    struct timeval none = {0, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    straits_nodelay(fd);
    return fd;
}

int straits_poll(const int *fds, const short *events, short *revents, int count, int64_t timeout_ns) {
    struct pollfd polled[256];
    if (count < 0 || count > 256) { errno = EINVAL; return -1; }
    for (int i = 0; i < count; i++) polled[i] = (struct pollfd){.fd = fds[i], .events = events[i]};
    struct timespec timeout = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
    int ready = ppoll(polled, (nfds_t)count, timeout_ns < 0 ? NULL : &timeout, NULL);
    for (int i = 0; i < count; i++) revents[i] = ready > 0 ? polled[i].revents : 0;
    return ready;
}
