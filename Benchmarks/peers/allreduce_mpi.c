/* MPI_Allreduce measured the way straits bench allreduce measures: for each size, warm-up
 * iterations, then iterations that each start after MPI_Barrier; an iteration's time is the
 * slowest rank's; the figure is the median. Same integer pattern and exactness check.
 *   mpirun -np P ./allreduce_mpi MINBYTES MAXBYTES FACTOR ITERS WARMUP
 * Prints: size_bytes time_us busbw_gbps wrong
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    long minBytes = atol(argv[1]), maxBytes = atol(argv[2]), factor = atol(argv[3]);
    int iters = atoi(argv[4]), warmup = atoi(argv[5]);
    long wrap = (1L << 24) / ((long)ranks * ranks);
    if (wrap < 1) wrap = 1;
    float *send = malloc(maxBytes), *recv = malloc(maxBytes);
    double *times = malloc(sizeof(double) * iters), *slowest = malloc(sizeof(double) * iters);
    for (long size = minBytes; size <= maxBytes; size *= factor) {
        long count = size / 4;
        for (long j = 0; j < count; j++) send[j] = (float)((j % wrap) * ranks + rank);
        for (int it = 0; it < warmup + iters; it++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double start = MPI_Wtime();
            MPI_Allreduce(send, recv, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            double elapsed = MPI_Wtime() - start;
            if (it >= warmup) times[it - warmup] = elapsed;
        }
        MPI_Reduce(times, slowest, iters, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        long wrong = 0, allWrong = 0;
        for (long j = 0; j < count; j++)
            if (recv[j] != (float)((j % wrap) * ranks * ranks + ranks * (ranks - 1) / 2)) wrong++;
        MPI_Reduce(&wrong, &allWrong, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
        if (rank == 0) {
            qsort(slowest, iters, sizeof(double), compare);
            double median = slowest[iters / 2];
            double busbw = (double)size / median / 1e9 * 2.0 * (ranks - 1) / ranks;
            printf("%ld %.1f %.3f %ld\n", size, median * 1e6, busbw, allWrong);
            fflush(stdout);
        }
        if (size > maxBytes / factor) break;
    }
    MPI_Finalize();
    return 0;
}
