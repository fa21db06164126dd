/* Atomicity and ordering of the accumulate family under contention.
 *
 *   accumulate_sum lock_all: every rank adds 1 to one element of rank 0, N times
 *   fetch_and_op shared lock: every rank fetches-and-adds 1, up to N times, each under
 *     MPI_Win_lock(SHARED); the fetched values of all ranks together are exactly
 *     0 .. n*N-1 (gathered to rank 0)
 *   fetch_and_op lock_all flush: the same in one lock_all epoch, MPI_Win_flush each
 *   cas spin lock: a lock word taken with MPI_Compare_and_swap and released with
 *     MPI_Fetch_and_op(REPLACE); inside it a non-atomic get / flush / put increment
 *     of a counter; the count must be exact
 *   exclusive lock counter: the same increment with MPI_Win_lock(EXCLUSIVE) alone
 *   replace not torn: every rank replaces a long vector of MPI_LONG_LONG (each value
 *     with both 32-bit halves equal) and MPI_2INT pairs (both members equal) with
 *     its own constant, under shared locks, while every rank also reads them with
 *     MPI_Get_accumulate(NO_OP). The standard makes each element atomic (so no
 *     element may mix two writers), not the whole vector, which may end mixed; so
 *     whole vectors are checked only under exclusive locks, where each
 *     accumulate's epoch is alone.
 *   ordering: MPI_Accumulate(REPLACE) of 1..N then MPI_Get_accumulate(NO_OP) to
 *     the same element without a flush between must read N; accumulate(SUM 1) each
 *     followed by MPI_Fetch_and_op(NO_OP) reads 1, 2, 3, ... (default
 *     accumulate_ordering rar,raw,war,waw).
 * All of it on a window from MPI_Win_allocate, then on one from MPI_Win_create over
 * malloc'd memory. Rank 0 prints one line per case; exit 1 on a wrong value. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 100      /* operations per rank (at most) per case */
/* Loops with a lock epoch or a flush per operation do fewer on more ranks, so that
 * MPICH, oversubscribed on a small machine, keeps within seconds; the total of
 * contending operations stays about the same. */
static int nl, nspin, ntorn;
#define VLEN 64    /* long vector */
#define NPAIRS 4   /* MPI_2INT pairs */

static int rank, size, fails;
#define CHECK(c, ...)                                                        \
    do {                                                                     \
        if (!(c)) {                                                          \
            fails++;                                                         \
            printf("rank %d: FAIL line %d: %s: ", rank, __LINE__, #c);       \
            printf(__VA_ARGS__);                                             \
            printf("\n");                                                    \
        }                                                                    \
    } while (0)

/* Window of long longs on every rank: */
enum { SUM = 0, FOP = 1, FOP2 = 2, LOCKW = 3, COUNT = 4, XCOUNT = 5, VEC = 8, PAIRS = VEC + VLEN,
       ORD = PAIRS + NPAIRS, WLEN = ORD + 2 * 64 };
static long long *w;
static MPI_Win win;
static const char *flavor; /* "allocate" or "create" */

static void report(const char *what, int before) {
    int bad = fails - before, any;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("%s %s: %s\n", flavor, what, any ? "FAIL" : "ok");
}

static long long read0(int i) { /* rank 0's element i, read atomically */
    long long v;
    MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win);
    MPI_Fetch_and_op(NULL, &v, MPI_LONG_LONG, 0, i, MPI_NO_OP, win);
    MPI_Win_unlock(0, win);
    return v;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static void fetched_are_a_permutation(long long *got, const char *what) {
    long long *all = rank == 0 ? malloc(sizeof(long long) * nl * size) : NULL;
    MPI_Gather(got, nl, MPI_LONG_LONG, all, nl, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        qsort(all, (size_t)nl * size, sizeof(long long), cmp_ll);
        for (long long i = 0; i < (long long)nl * size; i++)
            if (all[i] != i) {
                CHECK(0, "%s: sorted fetched value %lld is %lld (lost or duplicated update)", what, i, all[i]);
                break;
            }
        free(all);
    }
}

static void counters(void) {
    int before = fails;
    long long one = 1;
    MPI_Win_lock_all(0, win);
    for (int i = 0; i < N; i++) MPI_Accumulate(&one, 1, MPI_LONG_LONG, 0, SUM, 1, MPI_LONG_LONG, MPI_SUM, win);
    MPI_Win_unlock_all(win);
    MPI_Barrier(MPI_COMM_WORLD);
    long long v = read0(SUM);
    CHECK(v == (long long)N * size, "accumulate sum: %lld, expected %lld", v, (long long)N * size);
    report("accumulate_sum lock_all", before);

    before = fails;
    long long got[N];
    for (int i = 0; i < nl; i++) {
        MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win);
        MPI_Fetch_and_op(&one, &got[i], MPI_LONG_LONG, 0, FOP, MPI_SUM, win);
        MPI_Win_unlock(0, win);
        if (i) CHECK(got[i] > got[i - 1], "fetch_and_op: fetched %lld after %lld", got[i], got[i - 1]);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    v = read0(FOP);
    CHECK(v == (long long)nl * size, "fetch_and_op sum: %lld, expected %lld", v, (long long)nl * size);
    fetched_are_a_permutation(got, "fetch_and_op shared lock");
    report("fetch_and_op shared lock", before);

    before = fails;
    MPI_Win_lock_all(0, win);
    for (int i = 0; i < nl; i++) {
        MPI_Fetch_and_op(&one, &got[i], MPI_LONG_LONG, 0, FOP2, MPI_SUM, win);
        MPI_Win_flush(0, win);
    }
    MPI_Win_unlock_all(win);
    MPI_Barrier(MPI_COMM_WORLD);
    v = read0(FOP2);
    CHECK(v == (long long)nl * size, "fetch_and_op lock_all: %lld, expected %lld", v, (long long)nl * size);
    fetched_are_a_permutation(got, "fetch_and_op lock_all");
    report("fetch_and_op lock_all flush", before);
}

static void spin_lock(void) {
    int before = fails;
    long long zero = 0, me = rank + 1, old, cnt;
    MPI_Win_lock_all(0, win);
    for (int i = 0; i < nspin; i++) {
        do {
            MPI_Compare_and_swap(&me, &zero, &old, MPI_LONG_LONG, 0, LOCKW, win);
            MPI_Win_flush(0, win);
        } while (old != 0);
        /* the critical section: a plain get / put increment */
        MPI_Get(&cnt, 1, MPI_LONG_LONG, 0, COUNT, 1, MPI_LONG_LONG, win);
        MPI_Win_flush(0, win);
        cnt++;
        MPI_Put(&cnt, 1, MPI_LONG_LONG, 0, COUNT, 1, MPI_LONG_LONG, win);
        MPI_Win_flush(0, win);
        MPI_Fetch_and_op(&zero, &old, MPI_LONG_LONG, 0, LOCKW, MPI_REPLACE, win);
        MPI_Win_flush(0, win);
        CHECK(old == me, "spin lock: the lock word held %lld, not me (%lld)", old, me);
    }
    MPI_Win_unlock_all(win);
    MPI_Barrier(MPI_COMM_WORLD);
    long long v = read0(COUNT);
    CHECK(v == (long long)nspin * size, "cas spin lock counter %lld, expected %lld", v, (long long)nspin * size);
    report("cas spin lock counter", before);

    before = fails;
    for (int i = 0; i < nspin; i++) {
        MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win);
        MPI_Get(&cnt, 1, MPI_LONG_LONG, 0, XCOUNT, 1, MPI_LONG_LONG, win);
        MPI_Win_flush(0, win);
        cnt++;
        MPI_Put(&cnt, 1, MPI_LONG_LONG, 0, XCOUNT, 1, MPI_LONG_LONG, win);
        MPI_Win_unlock(0, win);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    v = read0(XCOUNT);
    CHECK(v == (long long)nspin * size, "exclusive lock counter %lld, expected %lld", v, (long long)nspin * size);
    report("exclusive lock counter", before);
}

static long long pattern(int r) { return (long long)(r + 1) * 0x100000001LL; } /* both halves r+1 */

/* Each element of the vector and each pair: one writer's whole value (or 0). */
static int check_elements(const long long *vec, const int *pairs, const char *what, int whole) {
    int bad = 0;
    for (int i = 0; i < VLEN; i++) {
        long long x = vec[i];
        int hi = (int)(x >> 32), lo = (int)(x & 0xffffffff);
        if (hi != lo || hi < 0 || hi > size) {
            CHECK(0, "%s: element %d is torn: %#llx", what, i, x);
            bad++;
        } else if (whole && x != vec[0]) {
            CHECK(0, "%s: element %d is %#llx, element 0 %#llx (one accumulate split)", what, i, x, vec[0]);
            bad++;
        }
    }
    for (int i = 0; i < NPAIRS; i++) {
        int a = pairs[2 * i], b = pairs[2 * i + 1];
        if (a != b || a < 0 || a > size) {
            CHECK(0, "%s: MPI_2INT pair %d is torn: %d %d", what, i, a, b);
            bad++;
        } else if (whole && a != pairs[0]) {
            CHECK(0, "%s: pair %d is %d, pair 0 %d (one accumulate split)", what, i, a, pairs[0]);
            bad++;
        }
    }
    return bad;
}

static void not_torn(int exclusive) {
    int before = fails;
    long long vec[VLEN], rvec[VLEN];
    int pairs[2 * NPAIRS], rpairs[2 * NPAIRS];
    for (int i = 0; i < VLEN; i++) vec[i] = pattern(rank);
    for (int i = 0; i < 2 * NPAIRS; i++) pairs[i] = rank + 1;
    MPI_Aint pdisp = PAIRS; /* the pairs live in long long slots: 8 bytes each */
    for (int i = 0; i < ntorn; i++) {
        MPI_Win_lock(exclusive ? MPI_LOCK_EXCLUSIVE : MPI_LOCK_SHARED, 0, 0, win);
        MPI_Accumulate(vec, VLEN, MPI_LONG_LONG, 0, VEC, VLEN, MPI_LONG_LONG, MPI_REPLACE, win);
        MPI_Accumulate(pairs, NPAIRS, MPI_2INT, 0, pdisp, NPAIRS, MPI_2INT, MPI_REPLACE, win);
        MPI_Win_unlock(0, win);
        MPI_Win_lock(exclusive ? MPI_LOCK_EXCLUSIVE : MPI_LOCK_SHARED, 0, 0, win);
        MPI_Get_accumulate(NULL, 0, MPI_LONG_LONG, rvec, VLEN, MPI_LONG_LONG, 0, VEC, VLEN, MPI_LONG_LONG, MPI_NO_OP,
                           win);
        MPI_Get_accumulate(NULL, 0, MPI_2INT, rpairs, NPAIRS, MPI_2INT, 0, pdisp, NPAIRS, MPI_2INT, MPI_NO_OP, win);
        MPI_Win_unlock(0, win);
        if (check_elements(rvec, rpairs, exclusive ? "read under exclusive lock" : "read under shared lock",
                           exclusive))
            break;
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win);
        check_elements(&w[VEC], (int *)&w[PAIRS], "final", exclusive);
        for (int i = 0; i < VLEN; i++) w[VEC + i] = 0;
        for (int i = 0; i < NPAIRS; i++) w[PAIRS + i] = 0;
        MPI_Win_unlock(0, win);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    report(exclusive ? "replace not torn, exclusive locks (whole vectors)" : "replace not torn, shared locks (elements)",
           before);
}

static void ordering(void) {
    int before = fails;
    int t = (rank + 1) % size;
    MPI_Aint d = ORD + 2 * (rank % 64);
    long long v[N], r = -1, one = 1, got[N];
    MPI_Win_lock_all(0, win);
    for (int i = 0; i < N; i++) {
        v[i] = i + 1;
        MPI_Accumulate(&v[i], 1, MPI_LONG_LONG, t, d, 1, MPI_LONG_LONG, MPI_REPLACE, win);
    }
    MPI_Get_accumulate(NULL, 0, MPI_LONG_LONG, &r, 1, MPI_LONG_LONG, t, d, 1, MPI_LONG_LONG, MPI_NO_OP, win);
    MPI_Win_flush(t, win);
    CHECK(r == N, "replace 1..%d then get_accumulate(NO_OP) read %lld", N, r);
    for (int i = 0; i < N; i++) {
        MPI_Accumulate(&one, 1, MPI_LONG_LONG, t, d + 1, 1, MPI_LONG_LONG, MPI_SUM, win);
        MPI_Fetch_and_op(NULL, &got[i], MPI_LONG_LONG, t, d + 1, MPI_NO_OP, win);
    }
    MPI_Win_flush(t, win);
    for (int i = 0; i < N; i++)
        if (got[i] != i + 1) {
            CHECK(0, "sum then fetch_and_op(NO_OP) %d read %lld", i, got[i]);
            break;
        }
    MPI_Win_unlock_all(win);
    report("accumulate ordering (same origin, same element)", before);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    nl = size <= 2 ? N : 120 / size;
    nspin = size <= 2 ? 20 : 8 + 16 / size;
    ntorn = size <= 2 ? 25 : 6 + 16 / size;
    /* everything on memory MPI allocates, then on the program's own */
    for (int f = 0; f < 2; f++) {
        long long *mine = NULL;
        if (f == 0) {
            flavor = "allocate";
            MPI_Win_allocate(WLEN * sizeof(long long), sizeof(long long), MPI_INFO_NULL, MPI_COMM_WORLD, &w, &win);
        } else {
            flavor = "create";
            w = mine = malloc(WLEN * sizeof(long long));
            MPI_Win_create(w, WLEN * sizeof(long long), sizeof(long long), MPI_INFO_NULL, MPI_COMM_WORLD, &win);
        }
        MPI_Win_lock(MPI_LOCK_EXCLUSIVE, rank, 0, win);
        memset(w, 0, WLEN * sizeof(long long));
        MPI_Win_unlock(rank, win);
        MPI_Barrier(MPI_COMM_WORLD);
        counters();
        spin_lock();
        not_torn(0);
        not_torn(1);
        ordering();
        MPI_Win_free(&win);
        free(mine);
    }
    int any;
    MPI_Allreduce(&fails, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    printf("rank %d of %d: %s\n", rank, size, any ? "FAIL" : "PASS");
    MPI_Finalize();
    return fails ? 1 : 0;
}
