/* One-sided communication with derived datatypes on both sides.
 *
 * Nine layouts of six MPI_INTs each (so any two have the same type signature):
 * contiguous (MPI_INT x 6), vector, indexed (blocks out of order), hvector, struct of
 * one basic type, subarray, contiguous of a vector, resized vector (count 3), and
 * MPI_Type_create_indexed_block. Every (origin layout, target layout) pair, 81 of
 * them, is used by MPI_Put, MPI_Get, MPI_Accumulate(SUM) (under fence) and
 * MPI_Get_accumulate(SUM, with a third layout for the result; under lock_all), each
 * pair to its own region of the target's window at a nonzero displacement, on a
 * window with disp_unit sizeof(int) (MPI_Win_allocate) and one with disp_unit 1
 * (MPI_Win_create, byte displacements). Rank r targets r+1 mod n. The expected
 * values come from each layout's list of int offsets written out by hand, not
 * from MPI. Rank 0 prints a line per (operation, window); a wrong element is
 * printed by the rank that sees it. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NL 9     /* layouts */
#define NE 6     /* ints per layout */
#define REGION 24 /* ints per pair's region: every layout's extent fits */
#define NPAIR (NL * NL)
#define OFF 3    /* each region starts OFF ints in */
/* Window ints: the regions and OFF, rounded up to 16 bytes. MPICH 4.0.2's
 * MPI_Win_allocate on shared memory puts a rank's remote accesses at the wrong
 * address when an earlier rank's size is not a multiple of 16 bytes (a put to
 * displacement 0 of rank 1 misses its window); rma_flavors.c checks odd sizes. */
#define NWIN ((NPAIR * REGION + OFF + 3) / 4 * 4)

typedef struct {
    const char *name;
    MPI_Datatype type;
    int count;
    int off[NE]; /* int offsets of the elements, in type-map order */
} layout;

static layout L[NL];
static int rank, size, fails;

static void make_layouts(void) {
    MPI_Datatype t, v;
    int i = 0;

    L[i] = (layout){"contiguous", MPI_INT, 6, {0, 1, 2, 3, 4, 5}};
    i++;

    MPI_Type_vector(3, 2, 5, MPI_INT, &t);
    MPI_Type_commit(&t);
    L[i++] = (layout){"vector", t, 1, {0, 1, 5, 6, 10, 11}};

    int bl[3] = {2, 1, 3}, dp[3] = {9, 0, 4};
    MPI_Type_indexed(3, bl, dp, MPI_INT, &t);
    MPI_Type_commit(&t);
    L[i++] = (layout){"indexed", t, 1, {9, 10, 0, 4, 5, 6}};

    MPI_Type_create_hvector(2, 3, 10 * sizeof(int), MPI_INT, &t);
    MPI_Type_commit(&t);
    L[i++] = (layout){"hvector", t, 1, {0, 1, 2, 10, 11, 12}};

    int sbl[3] = {2, 1, 3};
    MPI_Aint sdp[3] = {0, 4 * sizeof(int), 7 * sizeof(int)};
    MPI_Datatype sty[3] = {MPI_INT, MPI_INT, MPI_INT};
    MPI_Type_create_struct(3, sbl, sdp, sty, &t);
    MPI_Type_commit(&t);
    L[i++] = (layout){"struct", t, 1, {0, 1, 4, 7, 8, 9}};

    int sizes[2] = {4, 5}, sub[2] = {2, 3}, start[2] = {1, 1};
    MPI_Type_create_subarray(2, sizes, sub, start, MPI_ORDER_C, MPI_INT, &t);
    MPI_Type_commit(&t);
    L[i++] = (layout){"subarray", t, 1, {6, 7, 8, 11, 12, 13}};

    MPI_Type_vector(3, 1, 2, MPI_INT, &v); /* 0 2 4, extent 5 ints */
    MPI_Type_contiguous(2, v, &t);
    MPI_Type_free(&v);
    MPI_Type_commit(&t);
    L[i++] = (layout){"contiguous_of_vector", t, 1, {0, 2, 4, 5, 7, 9}};

    MPI_Type_vector(2, 1, 3, MPI_INT, &v); /* 0 3, extent 4 ints */
    MPI_Type_create_resized(v, 0, 7 * sizeof(int), &t);
    MPI_Type_free(&v);
    MPI_Type_commit(&t);
    L[i++] = (layout){"resized", t, 3, {0, 3, 7, 10, 14, 17}};

    int ibd[3] = {8, 2, 5};
    MPI_Type_create_indexed_block(3, 2, ibd, MPI_INT, &t);
    MPI_Type_commit(&t);
    L[i++] = (layout){"indexed_block", t, 1, {8, 9, 2, 3, 5, 6}};
}

static int T(int t, int i) { return 100000 * (t + 1) + i; }
static int O(int o, int p, int k) { return 7000000 + 10000 * o + 10 * p + k; }

enum { PUT, GET, ACC, GACC, NOPER };
static const char *oname[NOPER] = {"put", "get", "accumulate_sum", "get_accumulate_sum"};

static int *org, *res; /* origin and result buffers: NPAIR regions */

static void fail(const char *what, int oper, int du, int p, int i, int got, int want) {
    fails++;
    printf("rank %d: FAIL %s disp_unit %d origin %s target %s: %s int %d is %d, expected %d\n", rank,
           oname[oper], du, L[p / NL].name, L[p % NL].name, what, i, got, want);
}

static void one(int oper, MPI_Win win, int *wmem, int du) {
    int next = (rank + 1) % size, prev = (rank - 1 + size) % size;
    int n = NWIN;
    int before = fails;
    /* reset: my window, my origin and result buffers */
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, rank, 0, win);
    for (int i = 0; i < n; i++) wmem[i] = T(rank, i);
    MPI_Win_unlock(rank, win);
    for (int p = 0; p < NPAIR; p++)
        for (int k = 0; k < REGION; k++) {
            org[p * REGION + k] = -1;
            res[p * REGION + k] = -2;
        }
    for (int p = 0; p < NPAIR; p++) {
        const layout *a = &L[p / NL];
        for (int k = 0; k < NE; k++) org[p * REGION + a->off[k]] = O(rank, p, k);
    }
    MPI_Barrier(MPI_COMM_WORLD);

    if (oper == GACC) MPI_Win_lock_all(0, win);
    else MPI_Win_fence(MPI_MODE_NOPRECEDE, win);
    for (int p = 0; p < NPAIR; p++) {
        const layout *a = &L[p / NL], *b = &L[p % NL], *r = &L[(p / NL + 1) % NL];
        MPI_Aint d = (MPI_Aint)(p * REGION + OFF) * (MPI_Aint)(sizeof(int) / du);
        int *ob = org + p * REGION, *rb = res + p * REGION;
        switch (oper) {
        case PUT: MPI_Put(ob, a->count, a->type, next, d, b->count, b->type, win); break;
        case GET: MPI_Get(ob, a->count, a->type, next, d, b->count, b->type, win); break;
        case ACC: MPI_Accumulate(ob, a->count, a->type, next, d, b->count, b->type, MPI_SUM, win); break;
        case GACC:
            MPI_Get_accumulate(ob, a->count, a->type, rb, r->count, r->type, next, d, b->count, b->type, MPI_SUM,
                               win);
            break;
        }
    }
    if (oper == GACC) MPI_Win_unlock_all(win);
    else MPI_Win_fence(MPI_MODE_NOSUCCEED, win);
    MPI_Barrier(MPI_COMM_WORLD);

    /* the origin side */
    for (int p = 0; p < NPAIR; p++) {
        const layout *a = &L[p / NL], *b = &L[p % NL], *r = &L[(p / NL + 1) % NL];
        int want[REGION], rwant[REGION];
        for (int k = 0; k < REGION; k++) {
            want[k] = -1;
            rwant[k] = -2;
        }
        for (int k = 0; k < NE; k++) {
            want[a->off[k]] = oper == GET ? T(next, p * REGION + OFF + b->off[k]) : O(rank, p, k);
            rwant[r->off[k]] = T(next, p * REGION + OFF + b->off[k]);
        }
        for (int k = 0; k < REGION; k++) {
            if (org[p * REGION + k] != want[k]) fail("origin buffer", oper, du, p, k, org[p * REGION + k], want[k]);
            if (oper == GACC && res[p * REGION + k] != rwant[k])
                fail("result buffer", oper, du, p, k, res[p * REGION + k], rwant[k]);
        }
    }
    /* the target side: what prev did to my window */
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, rank, 0, win);
    for (int i = 0; i < OFF; i++)
        if (wmem[i] != T(rank, i)) fail("target window (before the regions)", oper, du, 0, i, wmem[i], T(rank, i));
    for (int p = 0; p < NPAIR; p++) {
        const layout *b = &L[p % NL];
        int want[REGION];
        for (int k = 0; k < REGION; k++) want[k] = T(rank, p * REGION + OFF + k);
        for (int k = 0; k < NE; k++) {
            int *w = &want[b->off[k]];
            if (oper == PUT) *w = O(prev, p, k);
            else if (oper == ACC || oper == GACC) *w += O(prev, p, k);
        }
        for (int k = 0; k < REGION && p * REGION + OFF + k < n; k++) {
            int got = wmem[p * REGION + OFF + k];
            if (got != want[k]) fail("target window", oper, du, p, k, got, want[k]);
        }
    }
    MPI_Win_unlock(rank, win);

    int bad = fails - before, any;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("%s disp_unit %d: %d layout pairs %s\n", oname[oper], du, NPAIR, any ? "FAIL" : "ok");
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    make_layouts();
    /* every layout: six ints, extent within a region */
    for (int l = 0; l < NL; l++) {
        int sz;
        MPI_Aint lb, ext;
        MPI_Type_size(L[l].type, &sz);
        MPI_Type_get_extent(L[l].type, &lb, &ext);
        int hi = 0;
        for (int k = 0; k < NE; k++)
            if (L[l].off[k] > hi) hi = L[l].off[k];
        if (sz * L[l].count != NE * (int)sizeof(int) || lb < 0 || lb + ext * L[l].count > (REGION - OFF) * (MPI_Aint)sizeof(int) ||
            hi >= REGION - OFF) {
            fails++;
            printf("rank %d: FAIL layout %s: size %d extent %ld\n", rank, L[l].name, sz, (long)ext);
        }
    }
    int n = NWIN;
    org = malloc(NPAIR * REGION * sizeof(int));
    res = malloc(NPAIR * REGION * sizeof(int));

    int *amem;
    MPI_Win aw;
    MPI_Win_allocate((MPI_Aint)(n * sizeof(int)), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &amem, &aw);
    int *cmem = malloc(n * sizeof(int));
    MPI_Win cw;
    MPI_Win_create(cmem, (MPI_Aint)(n * sizeof(int)), 1, MPI_INFO_NULL, MPI_COMM_WORLD, &cw);

    for (int oper = 0; oper < NOPER; oper++) {
        one(oper, aw, amem, sizeof(int));
        one(oper, cw, cmem, 1);
    }
    MPI_Win_free(&aw);
    MPI_Win_free(&cw);
    free(cmem);
    free(org);
    free(res);
    for (int l = 1; l < NL; l++) MPI_Type_free(&L[l].type);
    int any;
    MPI_Allreduce(&fails, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    printf("rank %d of %d: %s\n", rank, size, any ? "FAIL" : "PASS");
    MPI_Finalize();
    return fails ? 1 : 0;
}
