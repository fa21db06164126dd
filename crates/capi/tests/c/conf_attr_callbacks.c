/* Attribute callbacks (MPI-3.1 §6.7): a copy callback's error code fails
 * MPI_Comm_dup and MPI_Type_dup with that code, leaving no new object (the
 * attributes already copied to it are deleted through their delete callbacks);
 * MPI_Type_free runs the delete callbacks of the type's attributes; and
 * MPI_Finalize first deletes the attributes of MPI_COMM_SELF, in the reverse order
 * of setting (§8.7.1), while MPI still works: each delete callback prints a line
 * and makes MPI calls, and the last one checks the order and prints PASS. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int fails = 0, rank = -1, size = 0;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

static int copies = 0, deletes = 0, my_err_code = MPI_ERR_OTHER;

static int copy_ok(MPI_Comm c, int k, void *extra, void *in, void *out, int *flag) {
    (void)c; (void)k; (void)extra;
    copies++;
    *(void **)out = in;
    *flag = 1;
    return MPI_SUCCESS;
}
static int copy_fail(MPI_Comm c, int k, void *extra, void *in, void *out, int *flag) {
    (void)c; (void)k; (void)extra; (void)in; (void)out;
    *flag = 0;
    return my_err_code;
}
static int del_count(MPI_Comm c, int k, void *val, void *extra) {
    (void)c; (void)k; (void)val; (void)extra;
    deletes++;
    return MPI_SUCCESS;
}
static int tcopy_ok(MPI_Datatype t, int k, void *extra, void *in, void *out, int *flag) {
    (void)t; (void)k; (void)extra;
    copies++;
    *(void **)out = in;
    *flag = 1;
    return MPI_SUCCESS;
}
static int tcopy_fail(MPI_Datatype t, int k, void *extra, void *in, void *out, int *flag) {
    (void)t; (void)k; (void)extra; (void)in; (void)out;
    *flag = 0;
    return my_err_code;
}
static int tdel_count(MPI_Datatype t, int k, void *val, void *extra) {
    (void)t; (void)k; (void)extra;
    if (val == (void *)&deletes) deletes++;
    return MPI_SUCCESS;
}

/* MPI_Finalize's deletes on MPI_COMM_SELF. */
static char order[8];
static int norder = 0;
static int self_del(MPI_Comm c, int k, void *val, void *extra) {
    (void)k; (void)extra;
    char name = *(char *)val;
    int fin = 1, r = -1, sum = 0, one = 1;
    MPI_Finalized(&fin);
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    /* A collective inside the callback: MPI still works, on every rank. */
    MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (c != MPI_COMM_SELF || fin || r != rank || sum != size) {
        fails++;
        printf("rank %d: FAIL delete callback %c: comm %#x finalized %d sum %d\n", rank, name, (unsigned)c, fin, sum);
    }
    printf("rank %d: finalize deletes %c\n", rank, name);
    order[norder++] = name;
    if (norder == 3) {
        /* set in the order B, C, A: deleted A, C, B */
        if (!(order[0] == 'A' && order[1] == 'C' && order[2] == 'B')) {
            fails++;
            printf("rank %d: FAIL finalize deleted in the order %c %c %c, not A C B\n", rank, order[0], order[1], order[2]);
        }
        if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
        fflush(stdout);
    }
    return MPI_SUCCESS;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int cls;
    MPI_Add_error_class(&cls);
    MPI_Add_error_code(cls, &my_err_code);

    /* MPI_Comm_dup: one attribute copies, the other's copy callback fails. */
    {
        int kok, kfail, v = 1;
        MPI_Comm_create_keyval(copy_ok, del_count, &kok, NULL);
        MPI_Comm_create_keyval(copy_fail, MPI_COMM_NULL_DELETE_FN, &kfail, NULL);
        MPI_Comm_set_attr(MPI_COMM_WORLD, kok, &v);
        MPI_Comm_set_attr(MPI_COMM_WORLD, kfail, &v);
        MPI_Comm dup = MPI_COMM_WORLD;
        copies = deletes = 0;
        int rc = MPI_Comm_dup(MPI_COMM_WORLD, &dup);
        CHECK(rc == my_err_code);
        int c = -1;
        MPI_Error_class(rc, &c);
        CHECK(c == cls);
        CHECK(dup == MPI_COMM_NULL);
        CHECK(deletes == copies); /* a copied attribute of the lost communicator is deleted */
        /* MPI_ERR_OTHER from the callback, the same way */
        my_err_code = MPI_ERR_OTHER;
        rc = MPI_Comm_dup(MPI_COMM_WORLD, &dup);
        CHECK(rc == MPI_ERR_OTHER);
        CHECK(dup == MPI_COMM_NULL);
        MPI_Comm_delete_attr(MPI_COMM_WORLD, kfail);
        /* with the failing attribute gone, the dup works and copies the other */
        copies = deletes = 0;
        CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &dup) == MPI_SUCCESS && dup != MPI_COMM_NULL);
        CHECK(copies == 1);
        MPI_Comm_free(&dup);
        CHECK(deletes == 1);
        MPI_Comm_delete_attr(MPI_COMM_WORLD, kok);
        MPI_Comm_free_keyval(&kok);
        MPI_Comm_free_keyval(&kfail);
    }

    /* MPI_Type_dup, and MPI_Type_free's delete callbacks. */
    {
        MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
        my_err_code = MPI_ERR_TYPE;
        int kok, kfail;
        MPI_Type_create_keyval(tcopy_ok, tdel_count, &kok, NULL);
        MPI_Type_create_keyval(tcopy_fail, MPI_TYPE_NULL_DELETE_FN, &kfail, NULL);
        MPI_Datatype t, d = MPI_INT;
        MPI_Type_contiguous(2, MPI_INT, &t);
        MPI_Type_commit(&t);
        MPI_Type_set_attr(t, kok, &deletes);
        MPI_Type_set_attr(t, kfail, &deletes);
        copies = deletes = 0;
        int rc = MPI_Type_dup(t, &d);
        CHECK(rc == MPI_ERR_TYPE);
        CHECK(d == MPI_DATATYPE_NULL);
        CHECK(deletes == copies);
        MPI_Type_delete_attr(t, kfail);
        copies = deletes = 0;
        CHECK(MPI_Type_dup(t, &d) == MPI_SUCCESS && d != MPI_DATATYPE_NULL);
        CHECK(copies == 1);
        void *got = NULL;
        int flag = 0;
        MPI_Type_get_attr(d, kok, &got, &flag);
        CHECK(flag && got == &deletes);
        CHECK(MPI_Type_free(&d) == MPI_SUCCESS);
        CHECK(deletes == 1);
        CHECK(MPI_Type_free(&t) == MPI_SUCCESS);
        CHECK(deletes == 2);
        MPI_Type_free_keyval(&kok);
        MPI_Type_free_keyval(&kfail);
    }

    /* MPI_COMM_SELF's attributes at MPI_Finalize: keyvals made A, B, C; set B, C, A
     * (neither the keyvals' order nor its reverse). */
    {
        static char names[3] = {'A', 'B', 'C'};
        int k[3];
        for (int i = 0; i < 3; i++) MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, self_del, &k[i], NULL);
        MPI_Comm_set_attr(MPI_COMM_SELF, k[1], &names[1]);
        MPI_Comm_set_attr(MPI_COMM_SELF, k[2], &names[2]);
        MPI_Comm_set_attr(MPI_COMM_SELF, k[0], &names[0]);
    }
    if (fails) printf("rank %d: %d checks failed before MPI_Finalize\n", rank, fails);
    MPI_Finalize();
    if (norder != 3) printf("rank %d: FAIL %d delete callbacks ran in MPI_Finalize\n", rank, norder);
    return fails != 0 || norder != 3;
}
