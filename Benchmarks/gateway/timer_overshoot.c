// How late this machine's timer wakes a thread: sleeps of 50 µs to 5 ms to an absolute
// CLOCK_MONOTONIC deadline, at SCHED_FIFO where permitted, and the overshoot percentiles.
// This is the floor under a gateway's delivery precision. Each length runs twice: with the
// CPUs free to halt when idle, and with a CPU latency request of 0 µs held on
// /dev/cpu_dma_latency (idle CPUs poll instead), as a gateway holds one while traffic is in flight.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int compare(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int samples = argc > 1 ? atoi(argv[1]) : 500;
    struct sched_param param = {.sched_priority = 30};
    int realtime = sched_setscheduler(0, SCHED_FIFO, &param) == 0;
    const long long lengths[] = {50000, 200000, 1000000, 5000000};
    long long *late = malloc(sizeof(long long) * samples);
    printf("# timer overshoot, %d sleeps each, %s priority; microseconds\n", samples, realtime ? "SCHED_FIFO" : "normal");
    printf("# idle CPUs: halt (no request), or poll (0 µs held on /dev/cpu_dma_latency)\n");
    printf("%-10s %-5s %6s %6s %6s %6s\n", "sleep", "idle", "p50", "p90", "p99", "max");
    for (int run = 0; run < 8; run++) {
        int k = run / 2, poll = run % 2, request = -1;
        if (poll) {
            request = open("/dev/cpu_dma_latency", O_WRONLY);
            int32_t zero = 0;
            if (request < 0 || write(request, &zero, sizeof zero) != sizeof zero) {
                printf("%-7lld us %-5s (cannot hold a request on /dev/cpu_dma_latency)\n", lengths[k] / 1000, "poll");
                if (request >= 0) close(request);
                continue;
            }
        }
        for (int i = 0; i < samples; i++) {
            long long due = now_ns() + lengths[k];
            struct timespec deadline = {due / 1000000000LL, due % 1000000000LL};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
            late[i] = now_ns() - due;
        }
        qsort(late, samples, sizeof(long long), compare);
        if (request >= 0) close(request);
        printf("%-7lld us %-5s %6lld %6lld %6lld %6lld\n", lengths[k] / 1000, poll ? "poll" : "halt", late[samples / 2] / 1000,
               late[samples * 9 / 10] / 1000, late[samples * 99 / 100] / 1000, late[samples - 1] / 1000);
    }
    free(late);
    return 0;
}
