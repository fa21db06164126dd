/* Bandwidth (osu_bw pattern) and, built with -DBIBW, bidirectional bandwidth
 * (osu_bibw pattern) between ranks 0 and 1. Per iteration a window of W (default 64)
 * messages: bw: rank 0 posts W MPI_Isend, rank 1 W MPI_Irecv, then a 4-byte ack from
 * rank 1; bibw: both ranks post W MPI_Irecv and W MPI_Isend at once. MB/s = 10^6 B/s
 * of payload (both directions counted for bibw).
 *   mpirun -np 2 ./bw [-m [MIN:]MAX] [-i N] [-x N] [-W N] [-c]    (see common.h) */
#include "common.h"

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
#ifdef BIBW
    const char *name = "bibw", *title = "Bi-Directional Bandwidth Test";
#else
    const char *name = "bw", *title = "Bandwidth Test";
#endif
    bench_opts o = {.name = name, .title = title, .min = 1, .max = 4u << 20, .iters = 100,
                    .warmup = 10, .iters_large = 20, .warmup_large = 2, .window = 64,
                    .uses_window = 1};
    int rc = bench_init(&o, argc, argv);
    if (rc) { MPI_Finalize(); return rc - 1; }
    if (bench_size < 2) {
        if (bench_rank == 0) fprintf(stderr, "%s: needs at least 2 processes\n", name);
        MPI_Finalize();
        return 1;
    }
    int me = bench_rank, peer = 1 - me, w = o.window;
    char *s = bench_alloc(o.max), *r = bench_alloc(o.max), ack[4] = {0};
    MPI_Request *req = malloc(sizeof(MPI_Request) * 2 * (size_t)w);
    (void)peer;
    (void)ack;
    const char *cols[] = {"Bandwidth (MB/s)"};
    bench_header(&o, 1, cols);
    for (size_t size = o.min; size <= o.max; size = bench_next(size)) {
        int ok = 1;
        long iters = bench_iters(&o, size), warm = bench_warmup(&o, size);
        if (o.validate && me < 2) {
            memset(r, 0, size);
            bench_fill(s, size, me);
        }
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = 0;
        /* with -c, iteration -1 is the validation round (untimed) */
        for (long i = o.validate ? -1 : 0; me < 2 && i < iters + warm; i++) {
            if (i == warm) t0 = MPI_Wtime();
#ifdef BIBW
            for (int k = 0; k < w; k++)
                MPI_Irecv(r, (int)size, MPI_CHAR, peer, 1, MPI_COMM_WORLD, &req[k]);
            for (int k = 0; k < w; k++)
                MPI_Isend(s, (int)size, MPI_CHAR, peer, 1, MPI_COMM_WORLD, &req[w + k]);
            MPI_Waitall(2 * w, req, MPI_STATUSES_IGNORE);
#else
            if (me == 0) {
                for (int k = 0; k < w; k++)
                    MPI_Isend(s, (int)size, MPI_CHAR, 1, 1, MPI_COMM_WORLD, &req[k]);
                MPI_Waitall(w, req, MPI_STATUSES_IGNORE);
                MPI_Recv(ack, 4, MPI_CHAR, 1, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else {
                for (int k = 0; k < w; k++)
                    MPI_Irecv(r, (int)size, MPI_CHAR, 0, 1, MPI_COMM_WORLD, &req[k]);
                MPI_Waitall(w, req, MPI_STATUSES_IGNORE);
                MPI_Send(ack, 4, MPI_CHAR, 0, 2, MPI_COMM_WORLD);
            }
#endif
            if (i == -1) {
#ifdef BIBW
                bench_check(r, size, peer, name);
#else
                if (me == 1) bench_check(r, size, 0, name);
#endif
            }
        }
        if (o.validate) ok = bench_all_ok(bench_failed);
        double t = me < 2 ? MPI_Wtime() - t0 : 0;
#ifdef BIBW
        /* the slower side's time */
        double tmax = 0;
        MPI_Reduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        t = tmax;
        double bytes = 2.0 * (double)size * w * iters;
#else
        double bytes = (double)size * w * iters;
#endif
        double mbs = bytes / 1e6 / t;
        bench_line(&o, size, 1, &mbs, ok);
    }
    free(req);
    free(s);
    free(r);
    return bench_finish();
}
