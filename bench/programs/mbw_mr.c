/* Multi-pair bandwidth and message rate (osu_mbw_mr pattern): rank r of the first
 * half streams windows of W (default 64) MPI_Isend to rank r + n/2, which posts W
 * MPI_Irecv and answers each window with a 4-byte ack; all pairs at once. Aggregate
 * MB/s (10^6 B/s) and messages/s over all pairs, timed by the slowest sender.
 *   mpirun -np 4 ./mbw_mr [-m [MIN:]MAX] [-i N] [-x N] [-W N] [-c] (see common.h) */
#include "common.h"

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    bench_opts o = {.name = "mbw_mr", .title = "Multiple Bandwidth / Message Rate Test",
                    .min = 1, .max = 4u << 20, .iters = 100, .warmup = 10,
                    .iters_large = 20, .warmup_large = 2, .window = 64, .uses_window = 1};
    int rc = bench_init(&o, argc, argv);
    if (rc) { MPI_Finalize(); return rc - 1; }
    int pairs = bench_size / 2, me = bench_rank, w = o.window;
    if (pairs < 1) {
        if (me == 0) fprintf(stderr, "mbw_mr: needs at least 2 processes\n");
        MPI_Finalize();
        return 1;
    }
    int active = me < 2 * pairs, sender = me < pairs;
    int peer = sender ? me + pairs : me - pairs;
    char *s = bench_alloc(o.max), *r = bench_alloc(o.max), ack[4] = {0};
    MPI_Request *req = malloc(sizeof(MPI_Request) * (size_t)w);
    const char *cols[] = {"MB/s", "Messages/s"};
    bench_header(&o, 2, cols);
    for (size_t size = o.min; size <= o.max; size = bench_next(size)) {
        long iters = bench_iters(&o, size), warm = bench_warmup(&o, size);
        if (o.validate && active) {
            memset(r, 0, size);
            bench_fill(s, size, me);
        }
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = 0, t = 0;
        for (long i = o.validate ? -1 : 0; active && i < iters + warm; i++) {
            if (i == warm) t0 = MPI_Wtime();
            if (sender) {
                for (int k = 0; k < w; k++)
                    MPI_Isend(s, (int)size, MPI_CHAR, peer, 1, MPI_COMM_WORLD, &req[k]);
                MPI_Waitall(w, req, MPI_STATUSES_IGNORE);
                MPI_Recv(ack, 4, MPI_CHAR, peer, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else {
                for (int k = 0; k < w; k++)
                    MPI_Irecv(r, (int)size, MPI_CHAR, peer, 1, MPI_COMM_WORLD, &req[k]);
                MPI_Waitall(w, req, MPI_STATUSES_IGNORE);
                MPI_Send(ack, 4, MPI_CHAR, peer, 2, MPI_COMM_WORLD);
                if (i == -1) bench_check(r, size, peer, "mbw_mr");
            }
        }
        if (active && sender) t = MPI_Wtime() - t0;
        int ok = o.validate ? bench_all_ok(bench_failed) : 1;
        double tmax = 0;
        MPI_Reduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        double msgs = (double)pairs * w * iters;
        double v[2] = {msgs * (double)size / 1e6 / tmax, msgs / tmax};
        bench_line(&o, size, 2, v, ok);
    }
    free(req);
    free(s);
    free(r);
    return bench_finish();
}
