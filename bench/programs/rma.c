/* One-sided (RMA) benchmarks in the pattern of OSU's osu_put_latency,
 * osu_get_latency, osu_put_bw, osu_acc_latency, osu_fop_latency and
 * osu_cas_latency (their defaults: a window from MPI_Win_allocate on every rank,
 * passive target, MPI_Win_flush synchronization), one program per operation,
 * chosen at build time: cc -DRMA_put_latency (put_latency, get_latency, put_bw,
 * acc_latency, fop_latency, cas_latency).
 *
 * Rank 0 opens one MPI_Win_lock(MPI_LOCK_SHARED) epoch on rank 1 per size and per
 * iteration issues the operation and MPI_Win_flush(1); the figure is the time per
 * iteration in microseconds. put_bw issues a window of W (default 64) MPI_Put of
 * the size, then one flush; MB/s = 10^6 B/s of payload. Rank 1 only waits in
 * MPI_Barrier at the end of each size (its progress is the library's business),
 * other ranks idle. Every put/get/accumulate targets displacement 0, as OSU's do.
 * acc_latency sums MPI_UNSIGNED_CHAR (a C integer type: every byte size is allowed;
 * OSU uses MPI_CHAR); fop_latency is MPI_Fetch_and_op(MPI_SUM) and cas_latency
 * MPI_Compare_and_swap on one MPI_LONG_LONG: one line of size 8 whatever -m says.
 * With -c each size is first done once untimed and its result checked at the
 * target (put, accumulate) or the origin (get, fetch_and_op, compare_and_swap).
 *   mpirun -np 2 ./put_latency [-m [MIN:]MAX] [-i N] [-x N] [-c]   (see common.h)
 *   mpirun -np 2 ./put_bw [-m [MIN:]MAX] [-i N] [-x N] [-W N] [-c] */
#include "common.h"

#if defined(RMA_put_latency)
#define NAME "put_latency"
#define TITLE "Put Latency Test (MPI_Win_allocate, lock once, MPI_Put + MPI_Win_flush)"
#define OP_PUT
#elif defined(RMA_get_latency)
#define NAME "get_latency"
#define TITLE "Get Latency Test (MPI_Win_allocate, lock once, MPI_Get + MPI_Win_flush)"
#define OP_GET
#elif defined(RMA_put_bw)
#define NAME "put_bw"
#define TITLE "Put Bandwidth Test (MPI_Win_allocate, lock once, W x MPI_Put + MPI_Win_flush)"
#define OP_PUT
#define BANDWIDTH
#elif defined(RMA_acc_latency)
#define NAME "acc_latency"
#define TITLE "Accumulate Latency Test (MPI_Win_allocate, lock once, MPI_Accumulate(SUM) + MPI_Win_flush)"
#define OP_ACC
#elif defined(RMA_fop_latency)
#define NAME "fop_latency"
#define TITLE "Fetch_and_op Latency Test (MPI_Win_allocate, lock once, MPI_Fetch_and_op(SUM) + MPI_Win_flush)"
#define OP_FOP
#define ATOMIC
#elif defined(RMA_cas_latency)
#define NAME "cas_latency"
#define TITLE "Compare_and_swap Latency Test (MPI_Win_allocate, lock once, MPI_Compare_and_swap + MPI_Win_flush)"
#define OP_CAS
#define ATOMIC
#else
#error "build with -DRMA_<put_latency|get_latency|put_bw|acc_latency|fop_latency|cas_latency>"
#endif

/* One operation of `size` bytes (ATOMIC: one long long) to rank 1, displacement 0. */
static inline void issue(void *s, void *r, size_t size, MPI_Win win) {
#if defined(OP_PUT)
    (void)r;
    MPI_Put(s, (int)size, MPI_CHAR, 1, 0, (int)size, MPI_CHAR, win);
#elif defined(OP_GET)
    (void)s;
    MPI_Get(r, (int)size, MPI_CHAR, 1, 0, (int)size, MPI_CHAR, win);
#elif defined(OP_ACC)
    (void)r;
    MPI_Accumulate(s, (int)size, MPI_UNSIGNED_CHAR, 1, 0, (int)size, MPI_UNSIGNED_CHAR, MPI_SUM, win);
#elif defined(OP_FOP)
    (void)size;
    MPI_Fetch_and_op(s, r, MPI_LONG_LONG, 1, 0, MPI_SUM, win);
#elif defined(OP_CAS)
    (void)size;
    /* compare with the window's value: 0 stays 0 (s holds 0, the compare value 0) */
    MPI_Compare_and_swap(s, (long long *)s + 1, r, MPI_LONG_LONG, 1, 0, win);
#endif
}

/* Validation round for one size (collective): one untimed operation, checked. */
static int validate(char *s, char *r, size_t size, char *wmem, MPI_Win win) {
    int me = bench_rank, err = 0;
    /* the target's window: a known pattern (get), zeros (put, acc, fop, cas) */
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, me, 0, win);
#if defined(OP_GET)
    if (me == 1) bench_fill(wmem, size, 1);
#else
    memset(wmem, 0, size < 16 ? 16 : size);
#endif
    MPI_Win_unlock(me, win);
    MPI_Barrier(MPI_COMM_WORLD);
    if (me == 0) {
#if defined(ATOMIC)
        long long *sv = (long long *)s, *rv = (long long *)r;
#if defined(OP_FOP)
        sv[0] = 1;
#else
        sv[0] = 5; /* swap in 5 where the window holds 0 */
        sv[1] = 0;
#endif
        MPI_Win_lock(MPI_LOCK_SHARED, 1, 0, win);
        for (int k = 0; k < 3; k++) {
            rv[0] = -1;
            issue(s, r, size, win);
            MPI_Win_flush(1, win);
            /* fop: fetched 0, 1, 2; cas: fetched 0, then 5 (no swap) */
            long long want = k == 0 ? 0 :
#if defined(OP_FOP)
                k;
#else
                5;
#endif
            if (rv[0] != want) {
                fprintf(stderr, "rank 0: %s: fetched %lld, expected %lld\n", NAME, rv[0], want);
                bench_failed++;
                err = 1;
            }
        }
        MPI_Win_unlock(1, win);
#else
        bench_fill(s, size, 0);
        memset(r, 0, size);
        MPI_Win_lock(MPI_LOCK_SHARED, 1, 0, win);
        issue(s, r, size, win);
        MPI_Win_flush(1, win);
        MPI_Win_unlock(1, win);
#if defined(OP_GET)
        err = bench_check(r, size, 1, "MPI_Get");
#endif
#endif
    }
    MPI_Barrier(MPI_COMM_WORLD);
#if defined(OP_PUT) || defined(OP_ACC)
    if (me == 1) {
        MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 1, 0, win);
        err = bench_check(wmem, size, 0, "MPI_Put/MPI_Accumulate into 0");
        MPI_Win_unlock(1, win);
    }
#endif
    return bench_all_ok(err);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
#if defined(BANDWIDTH)
    bench_opts o = {.name = NAME, .title = TITLE, .min = 1, .max = 1u << 20, .iters = 100, .warmup = 10,
                    .iters_large = 20, .warmup_large = 2, .window = 64, .uses_window = 1};
#else
    bench_opts o = {.name = NAME, .title = TITLE, .min = 1, .max = 1u << 20, .iters = 10000, .warmup = 1000,
                    .iters_large = 1000, .warmup_large = 100};
#endif
    int rc = bench_init(&o, argc, argv);
    if (rc) { MPI_Finalize(); return rc - 1; }
#if defined(ATOMIC)
    o.min = o.max = sizeof(long long);
#endif
    if (o.min == 0) o.min = 1; /* a zero-byte RMA operation measures nothing */
    if (bench_size < 2) {
        if (bench_rank == 0) fprintf(stderr, "%s: needs at least 2 processes\n", NAME);
        MPI_Finalize();
        return 1;
    }
    size_t wbytes = o.max < 16 ? 16 : o.max;
    char *s = bench_alloc(wbytes), *r = bench_alloc(wbytes), *wmem = NULL;
    MPI_Win win;
    MPI_Win_allocate((MPI_Aint)wbytes, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &wmem, &win);
#if defined(BANDWIDTH)
    const char *cols[] = {"Bandwidth (MB/s)"};
#else
    const char *cols[] = {"Latency (us)"};
#endif
    bench_header(&o, 1, cols);
    for (size_t size = o.min; size <= o.max; size = bench_next(size)) {
        int ok = o.validate ? validate(s, r, size, wmem, win) : 1;
        long iters = bench_iters(&o, size), warm = bench_warmup(&o, size);
#if defined(ATOMIC)
        memset(s, 0, 16); /* fop adds 0, cas compares 0 with 0 and swaps in 0 */
#endif
        MPI_Barrier(MPI_COMM_WORLD);
        if (bench_rank == 0) {
            double t0 = 0;
            MPI_Win_lock(MPI_LOCK_SHARED, 1, 0, win);
            for (long i = 0; i < iters + warm; i++) {
                if (i == warm) t0 = MPI_Wtime();
#if defined(BANDWIDTH)
                for (int k = 0; k < o.window; k++) issue(s, r, size, win);
#else
                issue(s, r, size, win);
#endif
                MPI_Win_flush(1, win);
            }
            double t = MPI_Wtime() - t0;
            MPI_Win_unlock(1, win);
#if defined(BANDWIDTH)
            double v = (double)size * o.window * iters / 1e6 / t;
#else
            double v = t * 1e6 / iters;
#endif
            bench_line(&o, size, 1, &v, ok);
        }
        MPI_Barrier(MPI_COMM_WORLD);
    }
    MPI_Win_free(&win);
    free(s);
    free(r);
    return bench_finish();
}
