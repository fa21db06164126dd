/* Multi-pair latency (osu_multi_lat pattern): rank r of the first half ping-pongs
 * with rank r + n/2 (blocking send/recv), all pairs at once; the figure is the
 * average over pairs of half the round trip in microseconds. With an odd number of
 * processes the last one idles.
 *   mpirun -np 4 ./multi_lat [-m [MIN:]MAX] [-i N] [-x N] [-c]   (see common.h) */
#include "common.h"

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    bench_opts o = {.name = "multi_lat", .title = "Multiple Pair Latency Test",
                    .min = 0, .max = 4u << 20, .iters = 10000, .warmup = 1000,
                    .iters_large = 1000, .warmup_large = 100};
    int rc = bench_init(&o, argc, argv);
    if (rc) { MPI_Finalize(); return rc - 1; }
    int pairs = bench_size / 2, me = bench_rank;
    if (pairs < 1) {
        if (me == 0) fprintf(stderr, "multi_lat: needs at least 2 processes\n");
        MPI_Finalize();
        return 1;
    }
    int active = me < 2 * pairs, sender = me < pairs;
    int peer = sender ? me + pairs : me - pairs;
    char *s = bench_alloc(o.max), *r = bench_alloc(o.max);
    const char *cols[] = {"Latency (us)"};
    bench_header(&o, 1, cols);
    for (size_t size = o.min; size <= o.max; size = bench_next(size)) {
        int ok = 1;
        if (o.validate) {
            int err = 0;
            if (active) {
                memset(r, 0, size);
                bench_fill(s, size, me);
                if (sender) {
                    MPI_Send(s, (int)size, MPI_CHAR, peer, 1, MPI_COMM_WORLD);
                    MPI_Recv(r, (int)size, MPI_CHAR, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                } else {
                    MPI_Recv(r, (int)size, MPI_CHAR, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                    MPI_Send(s, (int)size, MPI_CHAR, peer, 1, MPI_COMM_WORLD);
                }
                err = bench_check(r, size, peer, "ping-pong");
            }
            ok = bench_all_ok(err);
        }
        long iters = bench_iters(&o, size), warm = bench_warmup(&o, size);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = 0, lat = 0;
        for (long i = 0; active && i < iters + warm; i++) {
            if (i == warm) t0 = MPI_Wtime();
            if (sender) {
                MPI_Send(s, (int)size, MPI_CHAR, peer, 1, MPI_COMM_WORLD);
                MPI_Recv(r, (int)size, MPI_CHAR, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else {
                MPI_Recv(r, (int)size, MPI_CHAR, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(s, (int)size, MPI_CHAR, peer, 1, MPI_COMM_WORLD);
            }
        }
        if (active && sender) lat = (MPI_Wtime() - t0) * 1e6 / (2.0 * iters);
        double sum = 0;
        MPI_Reduce(&lat, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        sum /= pairs;
        bench_line(&o, size, 1, &sum, ok);
    }
    free(s);
    free(r);
    return bench_finish();
}
