/* Latency (osu_latency pattern): blocking MPI_Send/MPI_Recv ping-pong between ranks
 * 0 and 1; the figure is half the round trip in microseconds. Other ranks idle.
 *   mpirun -np 2 ./latency [-m [MIN:]MAX] [-i N] [-x N] [-c]     (see common.h) */
#include "common.h"

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    bench_opts o = {.name = "latency", .title = "Latency Test (blocking ping-pong, half round trip)",
                    .min = 0, .max = 4u << 20, .iters = 10000, .warmup = 1000,
                    .iters_large = 1000, .warmup_large = 100};
    int rc = bench_init(&o, argc, argv);
    if (rc) { MPI_Finalize(); return rc - 1; }
    if (bench_size < 2) {
        if (bench_rank == 0) fprintf(stderr, "latency: needs at least 2 processes\n");
        MPI_Finalize();
        return 1;
    }
    char *s = bench_alloc(o.max), *r = bench_alloc(o.max);
    const char *cols[] = {"Latency (us)"};
    bench_header(&o, 1, cols);
    int me = bench_rank, peer = 1 - me;
    for (size_t size = o.min; size <= o.max; size = bench_next(size)) {
        int ok = 1;
        if (o.validate) {
            int err = 0;
            if (me < 2) {
                memset(r, 0, size);
                bench_fill(s, size, me);
                if (me == 0) {
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
        double t0 = 0;
        if (me == 0) {
            for (long i = 0; i < iters + warm; i++) {
                if (i == warm) t0 = MPI_Wtime();
                MPI_Send(s, (int)size, MPI_CHAR, 1, 1, MPI_COMM_WORLD);
                MPI_Recv(r, (int)size, MPI_CHAR, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            }
            double lat = (MPI_Wtime() - t0) * 1e6 / (2.0 * iters);
            bench_line(&o, size, 1, &lat, ok);
        } else if (me == 1) {
            for (long i = 0; i < iters + warm; i++) {
                MPI_Recv(r, (int)size, MPI_CHAR, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(s, (int)size, MPI_CHAR, 0, 1, MPI_COMM_WORLD);
            }
        }
    }
    free(s);
    free(r);
    return bench_finish();
}
