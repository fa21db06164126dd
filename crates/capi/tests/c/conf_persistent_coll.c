/* MPI-4 persistent collectives: every MPI_X_init (int and several _c forms),
 * each started several times with new buffer contents and completed through a
 * different wait or test function each time (the request stays allocated and
 * inactive afterwards); MPI_Startall over a mix completed by MPI_Waitall,
 * MPI_Waitany, MPI_Waitsome and MPI_Testall; in-place forms; a derived datatype
 * and a user op freed right after init; MPI_Request_free of inactive requests;
 * argument errors at init under MPI_ERRORS_RETURN (the error classes are
 * printed: MPICH must agree). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails = 0, rank = -1, size = 0;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)
#define ITERS 4

/* Complete the persistent request *r by one of nine ways; it must stay allocated. */
static void finish(MPI_Request *r, int how) {
    int flag = 0, idx = -1, n = 0, ind[1];
    MPI_Status s;
    switch (how % 9) {
    case 0: CHECK(MPI_Wait(r, &s) == MPI_SUCCESS); break;
    case 1: while (!flag) CHECK(MPI_Test(r, &flag, &s) == MPI_SUCCESS); break;
    case 2: CHECK(MPI_Waitall(1, r, MPI_STATUSES_IGNORE) == MPI_SUCCESS); break;
    case 3: CHECK(MPI_Waitany(1, r, &idx, &s) == MPI_SUCCESS); CHECK(idx == 0); break;
    case 4: CHECK(MPI_Waitsome(1, r, &n, ind, MPI_STATUSES_IGNORE) == MPI_SUCCESS); CHECK(n == 1 && ind[0] == 0); break;
    case 5: while (!flag) CHECK(MPI_Testall(1, r, &flag, MPI_STATUSES_IGNORE) == MPI_SUCCESS); break;
    case 6: while (!flag) CHECK(MPI_Testany(1, r, &idx, &flag, &s) == MPI_SUCCESS); CHECK(idx == 0); break;
    case 7: while (n == 0) CHECK(MPI_Testsome(1, r, &n, ind, MPI_STATUSES_IGNORE) == MPI_SUCCESS); CHECK(n == 1); break;
    default:
        while (!flag) CHECK(MPI_Request_get_status(*r, &flag, &s) == MPI_SUCCESS);
        CHECK(MPI_Wait(r, &s) == MPI_SUCCESS);
        break;
    }
    CHECK(*r != MPI_REQUEST_NULL);
    /* Inactive now: a test completes at once with the empty status. */
    flag = 0;
    s.MPI_SOURCE = 77; s.MPI_TAG = 77;
    CHECK(MPI_Test(r, &flag, &s) == MPI_SUCCESS);
    CHECK(flag == 1 && s.MPI_SOURCE == MPI_ANY_SOURCE && s.MPI_TAG == MPI_ANY_TAG);
    CHECK(*r != MPI_REQUEST_NULL);
}

static int v(int who, int it, int i) { return who * 1000 + it * 100 + i; }

static void my_sum(void *in, void *inout, int *len, MPI_Datatype *dt) {
    (void)dt;
    for (int i = 0; i < *len; i++) ((int *)inout)[i] += ((int *)in)[i];
}

static void err(const char *what, int rc) {
    int cls;
    MPI_Error_class(rc, &cls);
    char name[MPI_MAX_ERROR_STRING];
    int len;
    MPI_Error_string(cls, name, &len);
    printf("rank %d: %s -> class %d\n", rank, what, cls);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm w = MPI_COMM_WORLD;
    int n = size, way = 0;
    int *sb = calloc(64 * n + 64, sizeof(int)), *rb = calloc(64 * n + 64, sizeof(int));
    int *cnt = calloc(n, sizeof(int)), *dsp = calloc(n, sizeof(int));
    int *cnt2 = calloc(n, sizeof(int)), *dsp2 = calloc(n, sizeof(int));
    MPI_Datatype *types = calloc(n, sizeof(MPI_Datatype));
    MPI_Request r;

    /* Barrier */
    CHECK(MPI_Barrier_init(w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
    for (int it = 0; it < ITERS; it++) { CHECK(MPI_Start(&r) == MPI_SUCCESS); finish(&r, way++); }
    CHECK(MPI_Request_free(&r) == MPI_SUCCESS && r == MPI_REQUEST_NULL);

    /* Bcast from the last rank, with a vector type freed at once */
    {
        int buf[12];
        MPI_Datatype vt;
        MPI_Type_vector(4, 1, 3, MPI_INT, &vt);
        MPI_Type_commit(&vt);
        CHECK(MPI_Bcast_init(buf, 1, vt, n - 1, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
        CHECK(MPI_Type_free(&vt) == MPI_SUCCESS);
        for (int it = 0; it < ITERS; it++) {
            for (int i = 0; i < 12; i++) buf[i] = rank == n - 1 ? v(n - 1, it, i) : -1;
            CHECK(MPI_Start(&r) == MPI_SUCCESS);
            finish(&r, way++);
            for (int i = 0; i < 12; i++) CHECK(buf[i] == (i % 3 == 0 || rank == n - 1 ? v(n - 1, it, i) : -1));
        }
        MPI_Request_free(&r);
    }

    /* Gather to 0 (and in place at the root), Gatherv */
    for (int inpl = 0; inpl < 2; inpl++) {
        const void *s = (inpl && rank == 0) ? MPI_IN_PLACE : sb;
        CHECK(MPI_Gather_init(s, 2, MPI_INT, rb, 2, MPI_INT, 0, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
        for (int it = 0; it < ITERS; it++) {
            for (int i = 0; i < 2; i++) sb[i] = v(rank, it, i);
            for (int i = 0; i < 2 * n; i++) rb[i] = (inpl && i < 2) ? v(0, it, i) : -1;
            CHECK(MPI_Start(&r) == MPI_SUCCESS);
            finish(&r, way++);
            if (rank == 0) for (int i = 0; i < 2 * n; i++) CHECK(rb[i] == v(i / 2, it, i % 2));
        }
        MPI_Request_free(&r);
    }
    for (int i = 0, at = 0; i < n; i++) { cnt[i] = i + 1; dsp[i] = at; at += i + 2; }
    CHECK(MPI_Gatherv_init(sb, rank + 1, MPI_INT, rb, cnt, dsp, MPI_INT, 0, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
    for (int it = 0; it < ITERS; it++) {
        for (int i = 0; i < rank + 1; i++) sb[i] = v(rank, it, i);
        for (int i = 0; i < 4 * n * n; i++) rb[i] = -1;
        CHECK(MPI_Start(&r) == MPI_SUCCESS);
        finish(&r, way++);
        if (rank == 0) for (int p = 0; p < n; p++) for (int i = 0; i < p + 1; i++) CHECK(rb[dsp[p] + i] == v(p, it, i));
    }
    MPI_Request_free(&r);

    /* Scatter from 1 % n, Scatterv */
    int root = 1 % n;
    CHECK(MPI_Scatter_init(sb, 3, MPI_INT, rb, 3, MPI_INT, root, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
    for (int it = 0; it < ITERS; it++) {
        for (int i = 0; i < 3 * n; i++) sb[i] = v(rank, it, i);
        for (int i = 0; i < 3; i++) rb[i] = -1;
        CHECK(MPI_Start(&r) == MPI_SUCCESS);
        finish(&r, way++);
        for (int i = 0; i < 3; i++) CHECK(rb[i] == v(root, it, 3 * rank + i));
    }
    MPI_Request_free(&r);
    CHECK(MPI_Scatterv_init(sb, cnt, dsp, MPI_INT, rb, rank + 1, MPI_INT, root, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
    for (int it = 0; it < ITERS; it++) {
        for (int i = 0; i < 4 * n * n; i++) sb[i] = v(rank, it, i);
        for (int i = 0; i < rank + 1; i++) rb[i] = -1;
        CHECK(MPI_Start(&r) == MPI_SUCCESS);
        finish(&r, way++);
        for (int i = 0; i < rank + 1; i++) CHECK(rb[i] == v(root, it, dsp[rank] + i));
    }
    MPI_Request_free(&r);

    /* Allgather (and in place), Allgatherv */
    for (int inpl = 0; inpl < 2; inpl++) {
        CHECK(MPI_Allgather_init(inpl ? MPI_IN_PLACE : sb, 2, MPI_INT, rb, 2, MPI_INT, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
        for (int it = 0; it < ITERS; it++) {
            for (int i = 0; i < 2; i++) sb[i] = v(rank, it, i);
            for (int i = 0; i < 2 * n; i++) rb[i] = (inpl && i / 2 == rank) ? v(rank, it, i % 2) : -1;
            CHECK(MPI_Start(&r) == MPI_SUCCESS);
            finish(&r, way++);
            for (int i = 0; i < 2 * n; i++) CHECK(rb[i] == v(i / 2, it, i % 2));
        }
        MPI_Request_free(&r);
    }
    CHECK(MPI_Allgatherv_init(sb, rank + 1, MPI_INT, rb, cnt, dsp, MPI_INT, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
    for (int it = 0; it < ITERS; it++) {
        for (int i = 0; i < rank + 1; i++) sb[i] = v(rank, it, i);
        for (int i = 0; i < 4 * n * n; i++) rb[i] = -1;
        CHECK(MPI_Start(&r) == MPI_SUCCESS);
        finish(&r, way++);
        for (int p = 0; p < n; p++) for (int i = 0; i < p + 1; i++) CHECK(rb[dsp[p] + i] == v(p, it, i));
    }
    MPI_Request_free(&r);

    /* Alltoall, Alltoallv, Alltoallw */
    CHECK(MPI_Alltoall_init(sb, 2, MPI_INT, rb, 2, MPI_INT, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
    for (int it = 0; it < ITERS; it++) {
        for (int i = 0; i < 2 * n; i++) sb[i] = v(rank, it, i);
        for (int i = 0; i < 2 * n; i++) rb[i] = -1;
        CHECK(MPI_Start(&r) == MPI_SUCCESS);
        finish(&r, way++);
        for (int p = 0; p < n; p++) for (int i = 0; i < 2; i++) CHECK(rb[2 * p + i] == v(p, it, 2 * rank + i));
    }
    MPI_Request_free(&r);
    /* rank r sends p+1 ints to p from offset 8p; receives r+1 from each p at 8p */
    for (int p = 0; p < n; p++) { cnt[p] = p + 1; dsp[p] = 8 * p; cnt2[p] = rank + 1; dsp2[p] = 8 * p; types[p] = MPI_INT; }
    MPI_Aint *adsp = calloc(n, sizeof(MPI_Aint)), *adsp2 = calloc(n, sizeof(MPI_Aint));
    for (int p = 0; p < n; p++) { adsp[p] = 32 * p; adsp2[p] = 32 * p; }
    for (int form = 0; form < 2; form++) {
        int *bd = calloc(n, sizeof(int));
        for (int p = 0; p < n; p++) bd[p] = 32 * p; /* bytes: 8 ints */
        if (form == 0)
            CHECK(MPI_Alltoallv_init(sb, cnt, dsp, MPI_INT, rb, cnt2, dsp2, MPI_INT, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
        else
            CHECK(MPI_Alltoallw_init(sb, cnt, bd, types, rb, cnt2, bd, types, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
        for (int it = 0; it < ITERS; it++) {
            for (int i = 0; i < 8 * n; i++) sb[i] = v(rank, it, i);
            for (int i = 0; i < 8 * n; i++) rb[i] = -1;
            CHECK(MPI_Start(&r) == MPI_SUCCESS);
            finish(&r, way++);
            for (int p = 0; p < n; p++) for (int i = 0; i < rank + 1; i++) CHECK(rb[8 * p + i] == v(p, it, 8 * rank + i));
        }
        MPI_Request_free(&r);
        free(bd);
    }

    /* Reduce (user op freed at once; in place at the root), Allreduce (in place) */
    for (int inpl = 0; inpl < 2; inpl++) {
        MPI_Op op;
        MPI_Op_create(my_sum, 1, &op);
        const void *s = (inpl && rank == 0) ? MPI_IN_PLACE : sb;
        CHECK(MPI_Reduce_init(s, rb, 5, MPI_INT, op, 0, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
        CHECK(MPI_Op_free(&op) == MPI_SUCCESS);
        for (int it = 0; it < ITERS; it++) {
            for (int i = 0; i < 5; i++) { sb[i] = v(rank, it, i); rb[i] = (inpl && rank == 0) ? v(0, it, i) : -1; }
            CHECK(MPI_Start(&r) == MPI_SUCCESS);
            finish(&r, way++);
            if (rank == 0) for (int i = 0; i < 5; i++) { int want = 0; for (int p = 0; p < n; p++) want += v(p, it, i); CHECK(rb[i] == want); }
        }
        MPI_Request_free(&r);
    }
    CHECK(MPI_Allreduce_init(MPI_IN_PLACE, rb, 5, MPI_INT, MPI_MAX, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
    for (int it = 0; it < ITERS; it++) {
        for (int i = 0; i < 5; i++) rb[i] = v(rank, it, i);
        CHECK(MPI_Start(&r) == MPI_SUCCESS);
        finish(&r, way++);
        for (int i = 0; i < 5; i++) CHECK(rb[i] == v(n - 1, it, i));
    }
    MPI_Request_free(&r);

    /* Reduce_scatter, Reduce_scatter_block, Scan, Exscan */
    for (int p = 0; p < n; p++) cnt[p] = p + 1;
    CHECK(MPI_Reduce_scatter_init(sb, rb, cnt, MPI_INT, MPI_SUM, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
    for (int it = 0; it < ITERS; it++) {
        int tot = n * (n + 1) / 2, off = rank * (rank + 1) / 2;
        for (int i = 0; i < tot; i++) sb[i] = v(rank, it, i);
        for (int i = 0; i < rank + 1; i++) rb[i] = -1;
        CHECK(MPI_Start(&r) == MPI_SUCCESS);
        finish(&r, way++);
        for (int i = 0; i < rank + 1; i++) { int want = 0; for (int p = 0; p < n; p++) want += v(p, it, off + i); CHECK(rb[i] == want); }
    }
    MPI_Request_free(&r);
    CHECK(MPI_Reduce_scatter_block_init(sb, rb, 2, MPI_INT, MPI_SUM, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
    for (int it = 0; it < ITERS; it++) {
        for (int i = 0; i < 2 * n; i++) sb[i] = v(rank, it, i);
        CHECK(MPI_Start(&r) == MPI_SUCCESS);
        finish(&r, way++);
        for (int i = 0; i < 2; i++) { int want = 0; for (int p = 0; p < n; p++) want += v(p, it, 2 * rank + i); CHECK(rb[i] == want); }
    }
    MPI_Request_free(&r);
    for (int ex = 0; ex < 2; ex++) {
        if (ex) CHECK(MPI_Exscan_init(sb, rb, 3, MPI_INT, MPI_SUM, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
        else CHECK(MPI_Scan_init(sb, rb, 3, MPI_INT, MPI_SUM, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
        for (int it = 0; it < ITERS; it++) {
            for (int i = 0; i < 3; i++) { sb[i] = v(rank, it, i); rb[i] = -1; }
            CHECK(MPI_Start(&r) == MPI_SUCCESS);
            finish(&r, way++);
            if (!ex || rank > 0)
                for (int i = 0; i < 3; i++) { int want = 0; for (int p = 0; p < rank + !ex; p++) want += v(p, it, i); CHECK(rb[i] == want); }
        }
        MPI_Request_free(&r);
    }

    /* Large-count forms */
    {
        MPI_Count c5 = 5;
        CHECK(MPI_Bcast_init_c(sb, c5, MPI_INT, 0, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
        for (int it = 0; it < ITERS; it++) {
            for (int i = 0; i < 5; i++) sb[i] = rank == 0 ? v(0, it, i) : -1;
            MPI_Start(&r);
            finish(&r, way++);
            for (int i = 0; i < 5; i++) CHECK(sb[i] == v(0, it, i));
        }
        MPI_Request_free(&r);
        CHECK(MPI_Allreduce_init_c(sb, rb, c5, MPI_INT, MPI_SUM, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
        for (int it = 0; it < ITERS; it++) {
            for (int i = 0; i < 5; i++) sb[i] = v(rank, it, i);
            MPI_Start(&r);
            finish(&r, way++);
            for (int i = 0; i < 5; i++) { int want = 0; for (int p = 0; p < n; p++) want += v(p, it, i); CHECK(rb[i] == want); }
        }
        MPI_Request_free(&r);
        MPI_Count *cc = calloc(n, sizeof(MPI_Count)), *cc2 = calloc(n, sizeof(MPI_Count));
        for (int p = 0; p < n; p++) { cc[p] = p + 1; cc2[p] = rank + 1; }
        CHECK(MPI_Alltoallv_init_c(sb, cc, adsp, MPI_INT, rb, cc2, adsp2, MPI_INT, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
        for (int it = 0; it < ITERS; it++) {
            for (int i = 0; i < 32 * n; i++) sb[i] = v(rank, it, i);
            for (int i = 0; i < 32 * n; i++) rb[i] = -1;
            MPI_Start(&r);
            finish(&r, way++);
            for (int p = 0; p < n; p++) for (int i = 0; i < rank + 1; i++) CHECK(rb[32 * p + i] == v(p, it, 32 * rank + i));
        }
        MPI_Request_free(&r);
        CHECK(MPI_Gather_init_c(sb, 1, MPI_INT, rb, 1, MPI_INT, 0, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
        for (int it = 0; it < ITERS; it++) {
            sb[0] = v(rank, it, 0);
            MPI_Start(&r);
            finish(&r, way++);
            if (rank == 0) for (int p = 0; p < n; p++) CHECK(rb[p] == v(p, it, 0));
        }
        MPI_Request_free(&r);
        free(cc);
        free(cc2);
    }

    /* Neighborhood collectives on a periodic ring */
    {
        MPI_Comm ring;
        int dims[1] = {n}, per[1] = {1};
        MPI_Cart_create(w, 1, dims, per, 0, &ring);
        int left = (rank + n - 1) % n, right = (rank + 1) % n;
        int ab[4], rb2[16];
        MPI_Request q[5];
        int nc[2] = {2, 2}, nd[2] = {0, 4};
        MPI_Aint bd[2] = {0, 16};
        MPI_Datatype nt[2] = {MPI_INT, MPI_INT};
        CHECK(MPI_Neighbor_allgather_init(ab, 2, MPI_INT, rb2, 2, MPI_INT, ring, MPI_INFO_NULL, &q[0]) == MPI_SUCCESS);
        CHECK(MPI_Neighbor_allgatherv_init(ab, 2, MPI_INT, rb2 + 4, nc, nd, MPI_INT, ring, MPI_INFO_NULL, &q[1]) == MPI_SUCCESS);
        /* alltoall family: 4 ints out, block 0 to the left, block 1 to the right */
        int a2[4];
        CHECK(MPI_Neighbor_alltoall_init(a2, 2, MPI_INT, rb2 + 12, 2, MPI_INT, ring, MPI_INFO_NULL, &q[2]) == MPI_SUCCESS);
        MPI_Request q2[2];
        int rv[8], rw[8];
        CHECK(MPI_Neighbor_alltoallv_init(a2, nc, (int[]){0, 2}, MPI_INT, rv, nc, nd, MPI_INT, ring, MPI_INFO_NULL, &q2[0]) == MPI_SUCCESS);
        CHECK(MPI_Neighbor_alltoallw_init_c(a2, (MPI_Count[]){2, 2}, (MPI_Aint[]){0, 8}, nt, rw, (MPI_Count[]){2, 2}, bd, nt, ring, MPI_INFO_NULL, &q2[1]) == MPI_SUCCESS);
        for (int it = 0; it < ITERS; it++) {
            for (int i = 0; i < 2; i++) ab[i] = v(rank, it, i);
            for (int i = 0; i < 4; i++) a2[i] = v(rank, it, 10 + i);
            for (int i = 0; i < 16; i++) rb2[i] = -1;
            for (int i = 0; i < 8; i++) rv[i] = rw[i] = -1;
            CHECK(MPI_Startall(3, q) == MPI_SUCCESS);
            CHECK(MPI_Startall(2, q2) == MPI_SUCCESS);
            CHECK(MPI_Waitall(3, q, MPI_STATUSES_IGNORE) == MPI_SUCCESS);
            int done = 0;
            while (done < 2) {
                int idx;
                CHECK(MPI_Waitany(2, q2, &idx, MPI_STATUS_IGNORE) == MPI_SUCCESS);
                CHECK(idx == 0 || idx == 1);
                done++;
            }
            int idx;
            CHECK(MPI_Waitany(2, q2, &idx, MPI_STATUS_IGNORE) == MPI_SUCCESS && idx == MPI_UNDEFINED);
            for (int i = 0; i < 2; i++) {
                CHECK(rb2[i] == v(left, it, i) && rb2[2 + i] == v(right, it, i));
                CHECK(rb2[4 + i] == v(left, it, i) && rb2[8 + i] == v(right, it, i));
                /* left neighbour's block to its right (block 1); right's block 0 */
                CHECK(rb2[12 + i] == v(left, it, 12 + i) && rb2[14 + i] == v(right, it, 10 + i));
                CHECK(rv[i] == v(left, it, 12 + i) && rv[4 + i] == v(right, it, 10 + i));
                CHECK(rw[i] == v(left, it, 12 + i) && rw[4 + i] == v(right, it, 10 + i));
            }
        }
        for (int i = 0; i < 3; i++) MPI_Request_free(&q[i]);
        MPI_Request_free(&q2[0]);
        MPI_Request_free(&q2[1]);
        /* A derived type both ways (every other int), freed after init */
        {
            MPI_Datatype vt;
            MPI_Type_vector(2, 1, 2, MPI_INT, &vt);
            MPI_Type_commit(&vt);
            int s8[8], r8[8];
            CHECK(MPI_Neighbor_alltoall_init(s8, 1, vt, r8, 1, vt, ring, MPI_INFO_NULL, &r) == MPI_SUCCESS);
            MPI_Type_free(&vt);
            for (int it = 0; it < ITERS; it++) {
                for (int i = 0; i < 8; i++) { s8[i] = v(rank, it, i); r8[i] = -1; }
                CHECK(MPI_Start(&r) == MPI_SUCCESS);
                finish(&r, way++);
                /* extent 3 ints: block 0 is ints 0,2 (to the left), block 1 ints 3,5 */
                CHECK(r8[0] == v(left, it, 3) && r8[2] == v(left, it, 5) && r8[1] == -1);
                CHECK(r8[3] == v(right, it, 0) && r8[5] == v(right, it, 2) && r8[4] == -1);
            }
            MPI_Request_free(&r);
        }
        MPI_Comm_free(&ring);
    }

    /* The neighborhood collectives do not block: rank 0 starts one, then
     * receives a synchronous message that rank 1 sends before starting its part
     * (a neighborhood collective that ran to completion at the start would
     * wait for rank 1 for ever). MPI_Ineighbor_allgather, then the persistent form. */
    if (n >= 2) {
        MPI_Comm ring;
        int dims[1] = {n}, per[1] = {1};
        MPI_Cart_create(w, 1, dims, per, 0, &ring);
        int left = (rank + n - 1) % n, right = (rank + 1) % n;
        int a[2], g[4], tok = -1;
        MPI_Request q = MPI_REQUEST_NULL;
        for (int form = 0; form < 2; form++) {
            if (form == 1) CHECK(MPI_Neighbor_allgather_init(a, 2, MPI_INT, g, 2, MPI_INT, ring, MPI_INFO_NULL, &q) == MPI_SUCCESS);
            for (int i = 0; i < 2; i++) a[i] = v(rank, form, i);
            for (int i = 0; i < 4; i++) g[i] = -1;
            if (rank == 1) CHECK(MPI_Ssend(&rank, 1, MPI_INT, 0, 99, w) == MPI_SUCCESS);
            if (form == 0) CHECK(MPI_Ineighbor_allgather(a, 2, MPI_INT, g, 2, MPI_INT, ring, &q) == MPI_SUCCESS);
            else CHECK(MPI_Start(&q) == MPI_SUCCESS);
            if (rank == 0) {
                CHECK(MPI_Recv(&tok, 1, MPI_INT, 1, 99, w, MPI_STATUS_IGNORE) == MPI_SUCCESS);
                CHECK(tok == 1);
            }
            CHECK(MPI_Wait(&q, MPI_STATUS_IGNORE) == MPI_SUCCESS);
            for (int i = 0; i < 2; i++) CHECK(g[i] == v(left, form, i) && g[2 + i] == v(right, form, i));
            if (form == 1) MPI_Request_free(&q);
        }
        MPI_Comm_free(&ring);
    }

    /* Startall over a mix, completed by Waitall, Waitsome and Testall */
    {
        int b[4], x[4], y[4 * 16];
        MPI_Request m[4];
        CHECK(MPI_Bcast_init(b, 4, MPI_INT, 0, w, MPI_INFO_NULL, &m[0]) == MPI_SUCCESS);
        CHECK(MPI_Allreduce_init(sb, x, 4, MPI_INT, MPI_SUM, w, MPI_INFO_NULL, &m[1]) == MPI_SUCCESS);
        CHECK(MPI_Allgather_init(sb + 8, 1, MPI_INT, y, 1, MPI_INT, w, MPI_INFO_NULL, &m[2]) == MPI_SUCCESS);
        CHECK(MPI_Barrier_init(w, MPI_INFO_NULL, &m[3]) == MPI_SUCCESS);
        for (int it = 0; it < 3 * ITERS; it++) {
            for (int i = 0; i < 4; i++) { b[i] = rank == 0 ? v(0, it, i) : -1; sb[i] = v(rank, it, i); x[i] = -1; }
            sb[8] = v(rank, it, 8);
            CHECK(MPI_Startall(4, m) == MPI_SUCCESS);
            if (it % 3 == 0) {
                CHECK(MPI_Waitall(4, m, MPI_STATUSES_IGNORE) == MPI_SUCCESS);
            } else if (it % 3 == 1) {
                int left = 4;
                while (left > 0) {
                    int oc, ind[4];
                    CHECK(MPI_Waitsome(4, m, &oc, ind, MPI_STATUSES_IGNORE) == MPI_SUCCESS);
                    CHECK(oc >= 1 && oc <= left);
                    left -= oc;
                }
                int oc, ind[4];
                CHECK(MPI_Waitsome(4, m, &oc, ind, MPI_STATUSES_IGNORE) == MPI_SUCCESS && oc == MPI_UNDEFINED);
            } else {
                int flag = 0;
                while (!flag) CHECK(MPI_Testall(4, m, &flag, MPI_STATUSES_IGNORE) == MPI_SUCCESS);
            }
            for (int i = 0; i < 4; i++) {
                CHECK(m[i] != MPI_REQUEST_NULL);
                CHECK(b[i] == v(0, it, i));
                int want = 0;
                for (int p = 0; p < n; p++) want += v(p, it, i);
                CHECK(x[i] == want);
            }
            for (int p = 0; p < n; p++) CHECK(y[p] == v(p, it, 8));
        }
        for (int i = 0; i < 4; i++) CHECK(MPI_Request_free(&m[i]) == MPI_SUCCESS && m[i] == MPI_REQUEST_NULL);
    }

    /* Freed before it was ever started */
    CHECK(MPI_Allreduce_init(sb, rb, 1, MPI_INT, MPI_SUM, w, MPI_INFO_NULL, &r) == MPI_SUCCESS);
    CHECK(MPI_Request_free(&r) == MPI_SUCCESS && r == MPI_REQUEST_NULL);

    /* Argument errors at init */
    r = MPI_REQUEST_NULL;
    err("MPI_Bcast_init root=size", MPI_Bcast_init(sb, 1, MPI_INT, n, w, MPI_INFO_NULL, &r));
    err("MPI_Reduce_init root=-1", MPI_Reduce_init(sb, rb, 1, MPI_INT, MPI_SUM, -1, w, MPI_INFO_NULL, &r));
    err("MPI_Allreduce_init count=-1", MPI_Allreduce_init(sb, rb, -1, MPI_INT, MPI_SUM, w, MPI_INFO_NULL, &r));
    err("MPI_Allreduce_init datatype null", MPI_Allreduce_init(sb, rb, 1, MPI_DATATYPE_NULL, MPI_SUM, w, MPI_INFO_NULL, &r));
    err("MPI_Allreduce_init op null", MPI_Allreduce_init(sb, rb, 1, MPI_INT, MPI_OP_NULL, w, MPI_INFO_NULL, &r));
    err("MPI_Barrier_init comm null", MPI_Barrier_init(MPI_COMM_NULL, MPI_INFO_NULL, &r));
    err("MPI_Gather_init_c root=size", MPI_Gather_init_c(sb, 1, MPI_INT, rb, 1, MPI_INT, n, w, MPI_INFO_NULL, &r));
    CHECK(r == MPI_REQUEST_NULL);

    free(sb); free(rb); free(cnt); free(dsp); free(cnt2); free(dsp2); free(types); free(adsp); free(adsp2);
    if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return 0;
}
