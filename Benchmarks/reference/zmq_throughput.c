/* The C reference for Straits' ZeroMQ throughput: a libzmq PUSH sender and PULL receiver, after
 * libzmq's own perf/local_thr and perf/remote_thr, sending one buffer zero-copy each time.
 *
 *   zmq_throughput recv ENDPOINT SIZE COUNT HWM   binds PULL, prints seconds from first to last message
 *   zmq_throughput send ENDPOINT SIZE COUNT HWM   connects PUSH, sends COUNT messages of SIZE bytes
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "zmq_throughput: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s recv|send ENDPOINT SIZE COUNT HWM\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1], *endpoint = argv[2];
    size_t size = strtoull(argv[3], NULL, 10);
    long count = strtol(argv[4], NULL, 10);
    int hwm = atoi(argv[5]);
    void *ctx = zmq_ctx_new();
    int linger = 5000;

    if (strcmp(mode, "recv") == 0) {
        void *pull = zmq_socket(ctx, ZMQ_PULL);
        zmq_setsockopt(pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
        zmq_setsockopt(pull, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_bind(pull, endpoint) != 0) die("zmq_bind");
        printf("ready\n");
        fflush(stdout);
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        double start = 0;
        for (long i = 0; i < count; i++) {
            if (zmq_msg_recv(&msg, pull, 0) < 0) die("zmq_msg_recv");
            if (zmq_msg_size(&msg) != size) { fprintf(stderr, "wrong size %zu\n", zmq_msg_size(&msg)); return 1; }
            if (i == 0) start = now_seconds();
        }
        double elapsed = now_seconds() - start;
        zmq_msg_close(&msg);
        printf("%.9f\n", elapsed);
        zmq_close(pull);
    } else {
        void *push = zmq_socket(ctx, ZMQ_PUSH);
        zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_connect(push, endpoint) != 0) die("zmq_connect");
        char *buffer = malloc(size);
        memset(buffer, 7, size);
        for (long i = 0; i < count; i++) {
            zmq_msg_t msg;
            /* No free function: libzmq reads the buffer in place (zero-copy). */
            if (zmq_msg_init_data(&msg, buffer, size, NULL, NULL) != 0) die("zmq_msg_init_data");
            if (zmq_msg_send(&msg, push, 0) < 0) die("zmq_msg_send");
        }
        zmq_close(push);
        zmq_ctx_term(ctx);  /* lingers until everything is delivered, then the buffer is free */
        free(buffer);
        return 0;
    }
    zmq_ctx_term(ctx);
    return 0;
}
