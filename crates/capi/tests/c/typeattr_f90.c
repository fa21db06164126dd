/* Datatype attributes (copy callbacks on MPI_Type_dup, delete callbacks on
 * MPI_Type_free and on replacement) and the f90 type constructors. Rank 0 prints
 * what the f90 calls give (size, combiner, contents, error class): the output is
 * compared with MPICH's. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

static int rank = -1, size, fails;
#define CHECK(c) do { if (!(c)) { printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); fails++; } } while (0)

static int copies, deletes, last_deleted;
static int copy_fn(MPI_Datatype t, int k, void *extra, void *in, void *out, int *flag) {
    (void)t; (void)k;
    CHECK(extra == (void *)&copies);
    copies++;
    *(void **)out = (char *)in + 1; /* the copy gets value + 1 */
    *flag = 1;
    return MPI_SUCCESS;
}
static int delete_fn(MPI_Datatype t, int k, void *v, void *extra) {
    (void)t; (void)k; (void)extra;
    deletes++;
    last_deleted = (int)(size_t)v;
    return MPI_SUCCESS;
}

static void attrs(void) {
    int k1, k2, k3, flag;
    void *v;
    MPI_Datatype t, d, d2;
    MPI_Type_contiguous(3, MPI_INT, &t);
    MPI_Type_create_keyval(copy_fn, delete_fn, &k1, &copies);
    MPI_Type_create_keyval(MPI_TYPE_NULL_COPY_FN, delete_fn, &k2, NULL);
    MPI_Type_create_keyval(MPI_TYPE_DUP_FN, MPI_TYPE_NULL_DELETE_FN, &k3, NULL);
    CHECK(MPI_Type_get_attr(t, k1, &v, &flag) == MPI_SUCCESS && flag == 0);
    MPI_Type_set_attr(t, k1, (void *)100);
    MPI_Type_set_attr(t, k2, (void *)200);
    MPI_Type_set_attr(t, k3, (void *)300);
    CHECK(MPI_Type_get_attr(t, k1, &v, &flag) == MPI_SUCCESS && flag == 1 && v == (void *)100);

    /* Replacing a value deletes the old one. */
    MPI_Type_set_attr(t, k2, (void *)201);
    CHECK(deletes == 1 && last_deleted == 200);

    /* Dup: k1 copied through copy_fn, k2 not copied (null copy), k3 the same value. */
    MPI_Type_dup(t, &d);
    CHECK(copies == 1);
    CHECK(MPI_Type_get_attr(d, k1, &v, &flag) == MPI_SUCCESS && flag == 1 && v == (void *)101);
    CHECK(MPI_Type_get_attr(d, k2, &v, &flag) == MPI_SUCCESS && flag == 0);
    CHECK(MPI_Type_get_attr(d, k3, &v, &flag) == MPI_SUCCESS && flag == 1 && v == (void *)300);
    MPI_Type_dup(d, &d2);
    CHECK(MPI_Type_get_attr(d2, k1, &v, &flag) == MPI_SUCCESS && flag == 1 && v == (void *)102);

    /* Delete: the callback runs, the attribute is gone. */
    deletes = 0;
    CHECK(MPI_Type_delete_attr(d, k1) == MPI_SUCCESS && deletes == 1 && last_deleted == 101);
    CHECK(MPI_Type_get_attr(d, k1, &v, &flag) == MPI_SUCCESS && flag == 0);

    /* Free: every remaining attribute's delete callback. */
    deletes = 0;
    MPI_Type_free(&t); /* k1 (100) and k2 (201) have delete callbacks */
    CHECK(deletes == 2 && t == MPI_DATATYPE_NULL);
    deletes = 0;
    MPI_Type_free(&d2);
    CHECK(deletes == 1 && last_deleted == 102);
    MPI_Type_free(&d);

    /* Attributes on a predefined type. */
    MPI_Type_set_attr(MPI_DOUBLE, k3, (void *)7);
    CHECK(MPI_Type_get_attr(MPI_DOUBLE, k3, &v, &flag) == MPI_SUCCESS && flag == 1 && v == (void *)7);
    CHECK(MPI_Type_delete_attr(MPI_DOUBLE, k3) == MPI_SUCCESS);

    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    /* A type keyval is not a communicator keyval, and vice versa. */
    int ck;
    MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, MPI_COMM_NULL_DELETE_FN, &ck, NULL);
    CHECK(MPI_Type_set_attr(MPI_INT, ck, (void *)1) != MPI_SUCCESS);
    CHECK(MPI_Comm_set_attr(MPI_COMM_WORLD, k1, (void *)1) != MPI_SUCCESS);
    MPI_Comm_free_keyval(&ck);

    /* Freed keyvals. */
    MPI_Type_free_keyval(&k1);
    CHECK(k1 == MPI_KEYVAL_INVALID);
    MPI_Type_free_keyval(&k2);
    MPI_Type_free_keyval(&k3);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
}

static void report(const char *what, int rc, MPI_Datatype t) {
    int cls, sz = -1, ni = -1, na = -1, nd = -1, comb = -1, ints[2] = {0, 0};
    MPI_Aint a[1];
    MPI_Datatype d[1];
    MPI_Error_class(rc, &cls);
    if (rc == MPI_SUCCESS) {
        MPI_Type_size(t, &sz);
        MPI_Type_get_envelope(t, &ni, &na, &nd, &comb);
        MPI_Type_get_contents(t, 2, 0, 0, ints, a, d);
    }
    if (rank == 0) {
        if (rc == MPI_SUCCESS)
            printf("%-28s size %d env %d %d %d comb %d ints %d %d\n", what, sz, ni, na, nd, comb, ints[0], ni > 1 ? ints[1] : 0);
        else
            printf("%-28s error class %d\n", what, cls);
    }
}

static void f90(void) {
    char what[64];
    MPI_Datatype t, t2;
    int i, rc;
    int rs[] = {-1, 1, 2, 3, 4, 5, 9, 10, 18, 19, 100};
    int pr[][2] = {{6, 37}, {7, 37}, {6, 38}, {15, 307}, {16, 307}, {15, 308}, {33, 4931}, {1, 1},
                   {MPI_UNDEFINED, 37}, {6, MPI_UNDEFINED}, {MPI_UNDEFINED, 300}, {MPI_UNDEFINED, MPI_UNDEFINED}};
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    for (i = 0; i < (int)(sizeof rs / sizeof rs[0]); i++) {
        sprintf(what, "integer r=%d", rs[i]);
        rc = MPI_Type_create_f90_integer(rs[i], &t);
        report(what, rc, t);
    }
    for (i = 0; i < (int)(sizeof pr / sizeof pr[0]); i++) {
        sprintf(what, "real p=%d r=%d", pr[i][0], pr[i][1]);
        rc = MPI_Type_create_f90_real(pr[i][0], pr[i][1], &t);
        report(what, rc, t);
        sprintf(what, "complex p=%d r=%d", pr[i][0], pr[i][1]);
        rc = MPI_Type_create_f90_complex(pr[i][0], pr[i][1], &t);
        report(what, rc, t);
    }
    /* The same arguments give the same handle; different ones another. */
    MPI_Type_create_f90_integer(9, &t);
    MPI_Type_create_f90_integer(9, &t2);
    CHECK(t == t2);
    MPI_Type_create_f90_integer(8, &t2);
    CHECK(t != t2);
    /* They communicate as what they stand for (committed already). */
    {
        int x[4] = {1, 2, 3, 4}, y[4] = {0, 0, 0, 0};
        double dx[2] = {1.5, -2.25}, dy[2] = {0, 0};
        MPI_Sendrecv(x, 4, t, rank, 0, y, 4, t, rank, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        CHECK(y[0] == 1 && y[3] == 4);
        MPI_Type_create_f90_real(15, 300, &t2);
        MPI_Allreduce(dx, dy, 2, t2, MPI_SUM, MPI_COMM_WORLD);
        CHECK(dy[0] == 1.5 * size && dy[1] == -2.25 * size);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    attrs();
    f90();
    MPI_Barrier(MPI_COMM_WORLD);
    if (!fails) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return fails != 0;
}
