/* Collective latency (osu_<op> pattern), one program per operation, chosen at build
 * time: cc -DCOLL_bcast (barrier, bcast, reduce, allreduce, allgather, alltoall,
 * gather, scatter). Per iteration: MPI_Wtime, the collective, MPI_Wtime, then an
 * untimed MPI_Barrier. The figure is the latency averaged over iterations and ranks
 * (with -f also the lowest and highest rank's average and the iteration count).
 * Size is the bytes each rank contributes (per destination for alltoall, per rank
 * for gather/scatter/allgather); reductions sum MPI_FLOAT, sizes from 4 bytes;
 * barrier prints one line of size 0. Root is rank 0. Above 8 KiB it runs 1000 timed
 * iterations (OSU runs 100): one 2-rank exchange of 64 KiB-1 MiB takes 5-100 us, and
 * 100 of them moved 20-60% between runs, more than the gaps between libraries.
 *   mpirun -np 4 ./allreduce [-m [MIN:]MAX] [-i N] [-x N] [-c] [-f]  (see common.h) */
#include "common.h"

#if defined(COLL_barrier)
#define NAME "barrier"
#define TITLE "Barrier Latency Test"
#elif defined(COLL_bcast)
#define NAME "bcast"
#define TITLE "Broadcast Latency Test"
#elif defined(COLL_reduce)
#define NAME "reduce"
#define TITLE "Reduce Latency Test"
#define REDUCTION
#elif defined(COLL_allreduce)
#define NAME "allreduce"
#define TITLE "Allreduce Latency Test"
#define REDUCTION
#elif defined(COLL_allgather)
#define NAME "allgather"
#define TITLE "Allgather Latency Test"
#elif defined(COLL_alltoall)
#define NAME "alltoall"
#define TITLE "Alltoall Latency Test"
#elif defined(COLL_gather)
#define NAME "gather"
#define TITLE "Gather Latency Test"
#elif defined(COLL_scatter)
#define NAME "scatter"
#define TITLE "Scatter Latency Test"
#else
#error "build with -DCOLL_<op>: barrier bcast reduce allreduce allgather alltoall gather scatter"
#endif

static char *sbuf, *rbuf;
static int me, np;

/* Reductions: element k of rank r is (r + k) % 16, so sums are exact in float. */
static inline float red_in(int r, size_t k) { return (float)((r + (int)(k % 16)) % 16); }

static inline void op(size_t size) {
    int n = (int)size;
#if defined(COLL_barrier)
    (void)n;
    MPI_Barrier(MPI_COMM_WORLD);
#elif defined(COLL_bcast)
    MPI_Bcast(me == 0 ? sbuf : rbuf, n, MPI_CHAR, 0, MPI_COMM_WORLD);
#elif defined(COLL_reduce)
    MPI_Reduce(sbuf, rbuf, n / 4, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD);
#elif defined(COLL_allreduce)
    MPI_Allreduce(sbuf, rbuf, n / 4, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
#elif defined(COLL_allgather)
    MPI_Allgather(sbuf, n, MPI_CHAR, rbuf, n, MPI_CHAR, MPI_COMM_WORLD);
#elif defined(COLL_alltoall)
    MPI_Alltoall(sbuf, n, MPI_CHAR, rbuf, n, MPI_CHAR, MPI_COMM_WORLD);
#elif defined(COLL_gather)
    MPI_Gather(sbuf, n, MPI_CHAR, rbuf, n, MPI_CHAR, 0, MPI_COMM_WORLD);
#elif defined(COLL_scatter)
    MPI_Scatter(sbuf, n, MPI_CHAR, rbuf, n, MPI_CHAR, 0, MPI_COMM_WORLD);
#endif
}

/* Fills the inputs with known data, runs the collective once, checks the outputs of
 * this rank; returns the number of mismatches. */
static inline int validate(size_t size) {
    int err = 0;
    memset(rbuf, 0, size * (size_t)np);
#if defined(COLL_barrier)
    (void)size;
    op(0);
#elif defined(COLL_bcast)
    if (me == 0) bench_fill(sbuf, size, 0);
    op(size);
    if (me != 0) err += bench_check(rbuf, size, 0, NAME);
#elif defined(REDUCTION)
    size_t n = size / 4;
    float *in = (float *)sbuf, *out = (float *)rbuf;
    for (size_t k = 0; k < n; k++) in[k] = red_in(me, k);
    op(size);
#if defined(COLL_reduce)
    if (me == 0)
#endif
        for (size_t k = 0; k < n; k++) {
            float want = 0;
            for (int r = 0; r < np; r++) want += red_in(r, k);
            if (out[k] != want) {
                fprintf(stderr, "rank %d: %s of %zu floats: element %zu is %g, expected %g\n",
                        me, NAME, n, k, out[k], want);
                err++;
                bench_failed++;
                break;
            }
        }
    for (size_t k = 0; k < n; k++) in[k] = 1.0f;
#elif defined(COLL_allgather) || defined(COLL_gather)
    bench_fill(sbuf, size, me);
    op(size);
#if defined(COLL_gather)
    if (me == 0)
#endif
        for (int r = 0; r < np; r++) err += bench_check(rbuf + (size_t)r * size, size, r, NAME);
#elif defined(COLL_alltoall)
    /* the block for rank d is filled as sent by (me * np + d) */
    for (int d = 0; d < np; d++) bench_fill(sbuf + (size_t)d * size, size, me * np + d);
    op(size);
    for (int r = 0; r < np; r++)
        err += bench_check(rbuf + (size_t)r * size, size, r * np + me, NAME);
#elif defined(COLL_scatter)
    if (me == 0)
        for (int d = 0; d < np; d++) bench_fill(sbuf + (size_t)d * size, size, d);
    op(size);
    err += bench_check(rbuf, size, me, NAME);
#endif
    return err;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    bench_opts o = {.name = NAME, .title = TITLE, .min = 1, .max = 1u << 20,
                    .iters = 1000, .warmup = 200, .iters_large = 1000, .warmup_large = 50};
#if defined(REDUCTION)
    o.min = 4;
#endif
    int rc = bench_init(&o, argc, argv);
    if (rc) { MPI_Finalize(); return rc - 1; }
    me = bench_rank;
    np = bench_size;
#if defined(COLL_barrier)
    o.min = o.max = 0;
#endif
#if defined(REDUCTION)
    if (o.min < 4) o.min = 4;
#endif
    sbuf = bench_alloc(o.max * (size_t)np);
    rbuf = bench_alloc(o.max * (size_t)np);
#if defined(REDUCTION)
    for (size_t k = 0; k < o.max / 4; k++) ((float *)sbuf)[k] = 1.0f;
#endif
    if (o.full) {
        const char *cols[] = {"Avg Latency(us)", "Min Latency(us)", "Max Latency(us)", "Iterations"};
        bench_header(&o, 4, cols);
    } else {
        const char *cols[] = {"Avg Latency(us)"};
        bench_header(&o, 1, cols);
    }
    for (size_t size = o.min; size <= o.max; size = bench_next(size)) {
        int ok = o.validate ? bench_all_ok(validate(size)) : 1;
        long iters = bench_iters(&o, size), warm = bench_warmup(&o, size);
        double t = 0;
        MPI_Barrier(MPI_COMM_WORLD);
        for (long i = 0; i < iters + warm; i++) {
            double t0 = MPI_Wtime();
            op(size);
            double dt = MPI_Wtime() - t0;
            if (i >= warm) t += dt;
            MPI_Barrier(MPI_COMM_WORLD);
        }
        double mine = t * 1e6 / iters, sum = 0, lo = 0, hi = 0;
        MPI_Reduce(&mine, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        MPI_Reduce(&mine, &lo, 1, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
        MPI_Reduce(&mine, &hi, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        double v[4] = {sum / np, lo, hi, (double)iters};
        bench_line(&o, size, o.full ? 4 : 1, v, ok);
        if (size == 0 && o.max == 0) break;
    }
    free(sbuf);
    free(rbuf);
    return bench_finish();
}
