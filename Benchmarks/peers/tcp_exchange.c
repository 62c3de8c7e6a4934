// The loopback TCP limit for a 2-rank all-reduce: two processes, one TCP connection each way
// (as Straits' PUSH/PULL pairs have), each sends n bytes to the other while receiving n bytes (what a 2-rank ring moves: n/2 in the
// reduce-scatter and n/2 in the all-gather, each way), driven by poll() from the user buffers
// with no reduction and no framing. No 2-rank all-reduce over TCP on this machine can be faster.
// Prints "size time_us busbw_gbps 0" per size (median over iterations), busbw = n / time.
// Usage: tcp_exchange MIN MAX FACTOR ITERS WARMUP
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double exchange(int tx, int rx, char *out, char *in, size_t n) {
    size_t sent = 0, received = 0;
    double start = now();
    while (sent < n || received < n) {
        struct pollfd p[2] = {{tx, (short)(sent < n ? POLLOUT : 0), 0}, {rx, (short)(received < n ? POLLIN : 0), 0}};
        if (poll(p, 2, 10000) <= 0) { fprintf(stderr, "tcp_exchange: stalled\n"); exit(1); }
        if (sent < n && (p[0].revents & POLLOUT)) { ssize_t k = send(tx, out + sent, n - sent, 0); if (k > 0) sent += k; }
        if (received < n && (p[1].revents & POLLIN)) { ssize_t k = recv(rx, in + received, n - received, 0); if (k > 0) received += k; }
    }
    return now() - start;
}

static void run(int tx, int rx, size_t min, size_t max, size_t factor, int iters, int warmup, int print) {
    char *out = malloc(max), *in = malloc(max);
    memset(out, 1, max);
    memset(in, 0, max);
    fcntl(tx, F_SETFL, O_NONBLOCK);
    fcntl(rx, F_SETFL, O_NONBLOCK);
    double *times = malloc(sizeof(double) * iters);
    for (size_t n = min; n <= max; n *= factor) {
        for (int i = 0; i < warmup + iters; i++) {
            double t = exchange(tx, rx, out, in, n);
            if (i >= warmup) times[i - warmup] = t;
        }
        qsort(times, iters, sizeof(double), compare);
        double median = times[iters / 2];
        if (print) printf("%zu %.1f %.3f 0\n", n, median * 1e6, n / median / 1e9);
    }
}

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: tcp_exchange MIN MAX FACTOR ITERS WARMUP\n"); return 2; }
    size_t min = strtoull(argv[1], 0, 10), max = strtoull(argv[2], 0, 10), factor = strtoull(argv[3], 0, 10);
    int iters = atoi(argv[4]), warmup = atoi(argv[5]);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 2)
        || getsockname(listener, (struct sockaddr *)&address, &length)) { perror("tcp_exchange"); return 1; }
    pid_t child = fork();
    if (child == 0) {
        int first = socket(AF_INET, SOCK_STREAM, 0), second = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(first, (struct sockaddr *)&address, sizeof address) || connect(second, (struct sockaddr *)&address, sizeof address)) {
            perror("tcp_exchange");
            return 1;
        }
        run(first, second, min, max, factor, iters, warmup, 0);
        return 0;
    }
    int first = accept(listener, 0, 0), second = accept(listener, 0, 0);
    run(second, first, min, max, factor, iters, warmup, 1);
    int status = 0;
    waitpid(child, &status, 0);
    return status == 0 ? 0 : 1;
}
