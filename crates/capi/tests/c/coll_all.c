/* Every collective, blocking and nonblocking, with counts 0, 1, odd and large,
 * every root, MPI_IN_PLACE, derived datatypes, user ops (commutative or not),
 * several nonblocking collectives in flight, and error cases. Each rank checks
 * its results; rank 0 prints some values (compared with MPICH's output). */
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static int rank, size, fails;
#define CHECK(c) do { if (!(c)) { printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); fails++; } } while (0)

/* non-commutative: 2x2 matrix product inout = in * inout on int[4] */
static void matmul(void *in, void *inout, int *len, MPI_Datatype *dt) {
    int *a = in, *b = inout;
    for (int k = 0; k < *len; k++, a += 4, b += 4) {
        int c[4] = {a[0]*b[0]+a[1]*b[2], a[0]*b[1]+a[1]*b[3], a[2]*b[0]+a[3]*b[2], a[2]*b[1]+a[3]*b[3]};
        memcpy(b, c, sizeof c);
    }
    (void)dt;
}
/* commutative max on a strided type: called with the vector type */
static MPI_Datatype vec2;
static int seen_vec;
static void vmax(void *in, void *inout, int *len, MPI_Datatype *dt) {
    if (*dt == vec2) seen_vec = 1;
    int *a = in, *b = inout;
    for (int k = 0; k < *len; k++)
        for (int j = 0; j < 2; j++) /* vec2 = 2 ints at stride 2; extent 3 ints */
            if (a[k * 3 + j * 2] > b[k * 3 + j * 2]) b[k * 3 + j * 2] = a[k * 3 + j * 2];
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int counts[] = {0, 1, 7, 10000};
    for (int ci = 0; ci < 4; ci++) {
        int n = counts[ci];
        int *a = malloc(sizeof(int) * (n * size + 1)), *b = malloc(sizeof(int) * (n * size + 1));
        for (int root = 0; root < size; root++) {
            for (int i = 0; i < n; i++) a[i] = (rank == root) ? i * 3 + root : -1;
            MPI_Bcast(a, n, MPI_INT, root, MPI_COMM_WORLD);
            for (int i = 0; i < n; i++) CHECK(a[i] == i * 3 + root);
            for (int i = 0; i < n; i++) a[i] = rank * 100000 + i;
            for (int i = 0; i < n * size; i++) b[i] = -7;
            MPI_Gather(a, n, MPI_INT, b, n, MPI_INT, root, MPI_COMM_WORLD);
            if (rank == root) for (int r = 0; r < size; r++) for (int i = 0; i < n; i++) CHECK(b[r * n + i] == r * 100000 + i);
            MPI_Scatter(b, n, MPI_INT, a, n, MPI_INT, root, MPI_COMM_WORLD);
            for (int i = 0; i < n; i++) CHECK(a[i] == rank * 100000 + i);
            for (int i = 0; i < n; i++) a[i] = rank + i;
            MPI_Reduce(a, b, n, MPI_INT, MPI_SUM, root, MPI_COMM_WORLD);
            if (rank == root) for (int i = 0; i < n; i++) CHECK(b[i] == size * i + size * (size - 1) / 2);
            /* in place at the root */
            for (int i = 0; i < n; i++) b[i] = rank + i;
            if (rank == root) MPI_Reduce(MPI_IN_PLACE, b, n, MPI_INT, MPI_MAX, root, MPI_COMM_WORLD);
            else MPI_Reduce(b, NULL, n, MPI_INT, MPI_MAX, root, MPI_COMM_WORLD);
            if (rank == root) for (int i = 0; i < n; i++) CHECK(b[i] == size - 1 + i);
        }
        for (int i = 0; i < n; i++) a[i] = rank * 2 + i;
        MPI_Allreduce(a, b, n, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        for (int i = 0; i < n; i++) CHECK(b[i] == size * (size - 1) + size * i);
        MPI_Allreduce(MPI_IN_PLACE, a, n, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        for (int i = 0; i < n; i++) CHECK(a[i] == i);
        for (int i = 0; i < n; i++) a[i] = rank * 10 + i;
        MPI_Allgather(a, n, MPI_INT, b, n, MPI_INT, MPI_COMM_WORLD);
        for (int r = 0; r < size; r++) for (int i = 0; i < n; i++) CHECK(b[r * n + i] == r * 10 + i);
        for (int i = 0; i < n * size; i++) a[i] = rank * 1000 + i;
        MPI_Alltoall(a, n, MPI_INT, b, n, MPI_INT, MPI_COMM_WORLD);
        for (int r = 0; r < size; r++) for (int i = 0; i < n; i++) CHECK(b[r * n + i] == r * 1000 + rank * n + i);
        MPI_Alltoall(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, a, n, MPI_INT, MPI_COMM_WORLD);
        for (int r = 0; r < size; r++) for (int i = 0; i < n; i++) CHECK(a[r * n + i] == r * 1000 + rank * n + i);
        for (int i = 0; i < n; i++) a[i] = rank + 1;
        MPI_Scan(a, b, n, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        for (int i = 0; i < n; i++) CHECK(b[i] == (rank + 1) * (rank + 2) / 2);
        MPI_Exscan(a, b, n, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        if (rank > 0) for (int i = 0; i < n; i++) CHECK(b[i] == rank * (rank + 1) / 2);
        for (int i = 0; i < n * size; i++) a[i] = i + rank;
        MPI_Reduce_scatter_block(a, b, n, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        for (int i = 0; i < n; i++) CHECK(b[i] == size * (rank * n + i) + size * (size - 1) / 2);
        free(a); free(b);
    }
    /* v-variants with uneven counts */
    {
        int *rc = malloc(sizeof(int) * size), *dp = malloc(sizeof(int) * size), tot = 0;
        for (int r = 0; r < size; r++) { rc[r] = r + 1; dp[r] = tot + r; tot += r + 1 + r; }
        int *a = malloc(sizeof(int) * (size + 1)), *b = malloc(sizeof(int) * (tot + 1));
        for (int i = 0; i <= rank; i++) a[i] = rank * 10 + i;
        for (int i = 0; i < tot; i++) b[i] = -1;
        MPI_Allgatherv(a, rank + 1, MPI_INT, b, rc, dp, MPI_INT, MPI_COMM_WORLD);
        for (int r = 0; r < size; r++) for (int i = 0; i < rc[r]; i++) CHECK(b[dp[r] + i] == r * 10 + i);
        if (rank == 0) { printf("allgatherv:"); for (int i = 0; i < tot; i++) printf(" %d", b[i]); printf("\n"); }
        for (int i = 0; i < tot; i++) b[i] = -1;
        MPI_Gatherv(a, rank + 1, MPI_INT, b, rc, dp, MPI_INT, size - 1, MPI_COMM_WORLD);
        if (rank == size - 1) for (int r = 0; r < size; r++) for (int i = 0; i < rc[r]; i++) CHECK(b[dp[r] + i] == r * 10 + i);
        MPI_Bcast(b, tot, MPI_INT, size - 1, MPI_COMM_WORLD);
        MPI_Scatterv(b, rc, dp, MPI_INT, a, rank + 1, MPI_INT, 0, MPI_COMM_WORLD);
        for (int i = 0; i <= rank; i++) CHECK(a[i] == rank * 10 + i);
        int *sendb = malloc(sizeof(int) * size * size), *recvb = malloc(sizeof(int) * size * size);
        int *sc = malloc(sizeof(int) * size), *sd = malloc(sizeof(int) * size), *rcc = malloc(sizeof(int) * size), *rd = malloc(sizeof(int) * size);
        for (int r = 0; r < size; r++) { sc[r] = r; sd[r] = r * size; rcc[r] = rank; rd[r] = r * size; }
        for (int i = 0; i < size * size; i++) { sendb[i] = rank * 1000 + i; recvb[i] = -1; }
        MPI_Alltoallv(sendb, sc, sd, MPI_INT, recvb, rcc, rd, MPI_INT, MPI_COMM_WORLD);
        for (int r = 0; r < size; r++) for (int i = 0; i < rank; i++) CHECK(recvb[r * size + i] == r * 1000 + rank * size + i);
        int *rsc = malloc(sizeof(int) * size);
        for (int r = 0; r < size; r++) rsc[r] = r + 1;
        int tot2 = size * (size + 1) / 2;
        int *x = malloc(sizeof(int) * tot2), *y = malloc(sizeof(int) * tot2);
        for (int i = 0; i < tot2; i++) x[i] = i;
        MPI_Reduce_scatter(x, y, rsc, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        int off = rank * (rank + 1) / 2;
        for (int i = 0; i <= rank; i++) CHECK(y[i] == size * (off + i));
        MPI_Reduce_scatter(MPI_IN_PLACE, x, rsc, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        for (int i = 0; i <= rank; i++) CHECK(x[i] == size * (off + i));
        /* alltoallw with a different datatype per peer (bytes displacements) */
        int *sw = malloc(sizeof(int) * size), *swd = malloc(sizeof(int) * size);
        MPI_Datatype *swt = malloc(sizeof(MPI_Datatype) * size);
        for (int r = 0; r < size; r++) { sw[r] = 1; swd[r] = r * (int)sizeof(int); swt[r] = MPI_INT; }
        int *wa = malloc(sizeof(int) * size), *wb = malloc(sizeof(int) * size);
        for (int r = 0; r < size; r++) wa[r] = rank * 100 + r;
        MPI_Alltoallw(wa, sw, swd, swt, wb, sw, swd, swt, MPI_COMM_WORLD);
        for (int r = 0; r < size; r++) CHECK(wb[r] == r * 100 + rank);
        free(sw); free(swd); free(swt); free(wa); free(wb);
        free(rc); free(dp); free(a); free(b); free(sendb); free(recvb); free(sc); free(sd); free(rcc); free(rd); free(rsc); free(x); free(y);
    }
    /* derived datatypes: a column of a matrix */
    {
        MPI_Datatype col;
        MPI_Type_vector(4, 1, 3, MPI_DOUBLE, &col);
        MPI_Type_commit(&col);
        double m[12], g[64];
        for (int i = 0; i < 12; i++) m[i] = rank * 100 + i;
        MPI_Allgather(m, 1, col, g, 4, MPI_DOUBLE, MPI_COMM_WORLD);
        for (int r = 0; r < size; r++) for (int i = 0; i < 4; i++) CHECK(g[r * 4 + i] == r * 100 + i * 3);
        double s[12];
        for (int i = 0; i < 12; i++) s[i] = -1;
        MPI_Allreduce(m, s, 1, col, MPI_SUM, MPI_COMM_WORLD);
        for (int i = 0; i < 12; i++) CHECK(s[i] == (i % 3 == 0 ? size * (size - 1) * 50 + size * i : -1));
        if (rank == 0) { printf("col sum:"); for (int i = 0; i < 12; i++) printf(" %g", s[i]); printf("\n"); }
        MPI_Type_free(&col);
    }
    /* user ops */
    {
        MPI_Op mm, vm;
        MPI_Op_create(matmul, 0, &mm);
        int com;
        MPI_Op_commutative(mm, &com);
        CHECK(com == 0);
        int in[4] = {1, rank + 1, 0, 1}, out[4];
        MPI_Datatype mat;
        MPI_Type_contiguous(4, MPI_INT, &mat);
        MPI_Type_commit(&mat);
        MPI_Allreduce(in, out, 1, mat, mm, MPI_COMM_WORLD);
        /* product of [[1,r+1],[0,1]] over r = [[1, sum(r+1)],[0,1]] */
        CHECK(out[0] == 1 && out[1] == size * (size + 1) / 2 && out[2] == 0 && out[3] == 1);
        int sc_[4];
        MPI_Scan(in, sc_, 1, mat, mm, MPI_COMM_WORLD);
        CHECK(sc_[1] == (rank + 1) * (rank + 2) / 2);
        MPI_Type_vector(2, 1, 2, MPI_INT, &vec2);
        MPI_Datatype v3;
        MPI_Type_create_resized(vec2, 0, 3 * sizeof(int), &v3);
        MPI_Type_free(&vec2);
        vec2 = v3;
        MPI_Type_commit(&vec2);
        MPI_Op_create(vmax, 1, &vm);
        int va[9], vb[9];
        for (int i = 0; i < 9; i++) { va[i] = rank * 10 + i; vb[i] = -5; }
        MPI_Allreduce(va, vb, 3, vec2, vm, MPI_COMM_WORLD);
        for (int i = 0; i < 9; i++) CHECK(vb[i] == (i % 3 == 1 ? -5 : (size - 1) * 10 + i));
        int any = 0;
        MPI_Allreduce(&seen_vec, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        CHECK(any || size == 1); /* some rank applied the op, with the vector handle */
        int loc[9];
        for (int i = 0; i < 9; i++) loc[i] = 100;
        MPI_Reduce_local(va, loc, 3, vec2, vm);
        for (int i = 0; i < 9; i++) CHECK(loc[i] == (i % 3 == 1 ? 100 : (va[i] > 100 ? va[i] : 100)));
        if (rank == 0) printf("matmul %d %d %d %d\n", out[0], out[1], out[2], out[3]);
        MPI_Op_free(&mm); MPI_Op_free(&vm);
        MPI_Type_free(&mat); MPI_Type_free(&vec2);
        struct { double v; int i; } di[2] = {{rank % 2, rank}, {-rank, rank}}, dr[2];
        MPI_Allreduce(di, dr, 2, MPI_DOUBLE_INT, MPI_MAXLOC, MPI_COMM_WORLD);
        CHECK(dr[0].v == (size > 1) && dr[0].i == (size > 1 ? 1 : 0) && dr[1].v == 0 && dr[1].i == 0);
    }
    /* several nonblocking collectives in flight */
    {
        int n = 1000;
        int *a = malloc(sizeof(int) * n), *b = malloc(sizeof(int) * n), *c = malloc(sizeof(int) * n * size), *d = malloc(sizeof(int) * n);
        for (int i = 0; i < n; i++) { a[i] = rank + i; d[i] = rank == 0 ? i : -1; }
        MPI_Request r[5];
        MPI_Iallreduce(a, b, n, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &r[0]);
        MPI_Iallgather(a, n, MPI_INT, c, n, MPI_INT, MPI_COMM_WORLD, &r[1]);
        MPI_Ibcast(d, n, MPI_INT, 0, MPI_COMM_WORLD, &r[2]);
        MPI_Ibarrier(MPI_COMM_WORLD, &r[3]);
        int one = 1, tot = 0;
        MPI_Iscan(&one, &tot, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &r[4]);
        MPI_Waitall(5, r, MPI_STATUSES_IGNORE);
        for (int i = 0; i < n; i++) CHECK(b[i] == size * i + size * (size - 1) / 2 && d[i] == i);
        for (int q = 0; q < size; q++) for (int i = 0; i < n; i++) CHECK(c[q * n + i] == q + i);
        CHECK(tot == rank + 1);
        MPI_Datatype col;
        MPI_Type_vector(n / 2, 1, 2, MPI_INT, &col);
        MPI_Type_commit(&col);
        for (int i = 0; i < n; i++) a[i] = rank == 1 % size ? i : -1;
        MPI_Ibcast(a, 1, col, 1 % size, MPI_COMM_WORLD, &r[0]);
        MPI_Type_free(&col); /* freed while in use: the operation keeps it */
        int flag = 0;
        while (!flag) MPI_Test(&r[0], &flag, MPI_STATUS_IGNORE);
        for (int i = 0; i < n; i++) CHECK(a[i] == (i % 2 == 0 || rank == 1 % size ? i : -1));
        free(a); free(b); free(c); free(d);
    }
    /* errors */
    {
        int x = 0, y = 0, rc, cls;
        rc = MPI_Bcast(&x, 1, MPI_INT, size, MPI_COMM_WORLD);
        MPI_Error_class(rc, &cls); CHECK(cls == MPI_ERR_ROOT);
        rc = MPI_Reduce(&x, &y, 1, MPI_INT, MPI_SUM, -1, MPI_COMM_WORLD);
        MPI_Error_class(rc, &cls); CHECK(cls == MPI_ERR_ROOT);
        rc = MPI_Allreduce(&x, MPI_IN_PLACE, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        MPI_Error_class(rc, &cls); CHECK(cls == MPI_ERR_BUFFER);
        rc = MPI_Bcast(MPI_IN_PLACE, 1, MPI_INT, 0, MPI_COMM_WORLD);
        MPI_Error_class(rc, &cls); CHECK(cls == MPI_ERR_BUFFER);
        rc = MPI_Allreduce(&x, &x, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        MPI_Error_class(rc, &cls); CHECK(cls == MPI_ERR_BUFFER);
        MPI_Datatype t;
        MPI_Type_contiguous(2, MPI_INT, &t);
        int z[2];
        rc = MPI_Allreduce(z, &y, 1, t, MPI_SUM, MPI_COMM_WORLD);
        MPI_Error_class(rc, &cls); CHECK(cls == MPI_ERR_TYPE);
        MPI_Type_free(&t);
        rc = MPI_Allreduce(&x, &y, -1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        MPI_Error_class(rc, &cls); CHECK(cls == MPI_ERR_COUNT);
        rc = MPI_Allreduce(&x, &y, 1, MPI_INT, MPI_OP_NULL, MPI_COMM_WORLD);
        MPI_Error_class(rc, &cls); CHECK(cls == MPI_ERR_OP);
        MPI_Op o = MPI_SUM;
        rc = MPI_Op_free(&o);
        MPI_Error_class(rc, &cls); CHECK(cls == MPI_ERR_OP);
        MPI_Barrier(MPI_COMM_WORLD);
    }
    printf("rank %d of %d: %s\n", rank, size, fails ? "FAIL" : "PASS");
    MPI_Finalize();
    return 0;
}
