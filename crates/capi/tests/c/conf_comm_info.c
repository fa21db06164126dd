/* Communicator info: MPI_Comm_dup_with_info and MPI_Comm_split_type take
 * MPI_INFO_NULL; the assertions of MPI-4 §7.4.4 (mpi_assert_no_any_source,
 * mpi_assert_no_any_tag, mpi_assert_allow_overtaking, mpi_assert_exact_length)
 * are accepted and MPI_Comm_get_info reports each with the value in force, as
 * MPICH does: "true" or "false" (a value is true when it is "true" or a nonzero
 * number), false when never set, not carried over by MPI_Comm_dup. The
 * assertions are printed and compared with MPICH. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

static const char *keys[4] = {"mpi_assert_no_any_source", "mpi_assert_no_any_tag", "mpi_assert_allow_overtaking",
                              "mpi_assert_exact_length"};

/* "ttff": the four assertions as get_info reports them ('-' when missing). */
static void asserts(MPI_Comm c, char out[5]) {
    MPI_Info i = MPI_INFO_NULL;
    CHECK(MPI_Comm_get_info(c, &i) == MPI_SUCCESS && i != MPI_INFO_NULL);
    for (int k = 0; k < 4; k++) {
        char v[64] = "";
        int flag = 0;
        MPI_Info_get(i, keys[k], sizeof v - 1, v, &flag);
        out[k] = !flag ? '-' : !strcmp(v, "true") ? 't' : !strcmp(v, "false") ? 'f' : '?';
    }
    out[4] = 0;
    MPI_Info_free(&i);
}

static void show(const char *what, MPI_Comm c, const char *want) {
    char got[5];
    asserts(c, got);
    if (strcmp(got, want)) {
        fails++;
        printf("rank %d: FAIL %s: assertions %s, not %s\n", rank, what, got, want);
    }
    if (rank == 0) printf("%s: %s\n", what, got);
}

int main(int argc, char **argv) {
    int size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);

    show("MPI_COMM_WORLD", MPI_COMM_WORLD, "ffff");

    /* MPI_INFO_NULL */
    MPI_Comm a = MPI_COMM_NULL, b = MPI_COMM_NULL;
    CHECK(MPI_Comm_dup_with_info(MPI_COMM_WORLD, MPI_INFO_NULL, &a) == MPI_SUCCESS && a != MPI_COMM_NULL);
    int sa = 0;
    MPI_Comm_size(a, &sa);
    CHECK(sa == size);
    show("dup_with_info(MPI_INFO_NULL)", a, "ffff");
    CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &b) == MPI_SUCCESS && b != MPI_COMM_NULL);
    int sb = 0;
    MPI_Comm_size(b, &sb);
    CHECK(sb >= 1 && sb <= size);
    show("split_type(MPI_INFO_NULL)", b, "ffff");
    MPI_Comm_free(&b);
    CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_UNDEFINED, 0, MPI_INFO_NULL, &b) == MPI_SUCCESS && b == MPI_COMM_NULL);

    /* dup_with_info with the assertions: all true */
    MPI_Info in;
    MPI_Info_create(&in);
    for (int k = 0; k < 4; k++) MPI_Info_set(in, keys[k], "true");
    MPI_Comm c;
    CHECK(MPI_Comm_dup_with_info(MPI_COMM_WORLD, in, &c) == MPI_SUCCESS);
    show("dup_with_info(all true)", c, "tttt");
    /* the hints are the new communicator's: the info object can go */
    MPI_Info_free(&in);
    show("after MPI_Info_free", c, "tttt");
    /* MPI_Comm_dup does not carry them; dup_with_info(MPI_INFO_NULL) neither */
    MPI_Comm d, e;
    MPI_Comm_dup(c, &d);
    show("dup of it", d, "ffff");
    MPI_Comm_dup_with_info(c, MPI_INFO_NULL, &e);
    show("dup_with_info(it, MPI_INFO_NULL)", e, "ffff");
    /* the communicator still works */
    int one = 1, sum = 0;
    MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, c);
    CHECK(sum == size);

    /* set_info: one key at a time, others keep their value */
    MPI_Info_create(&in);
    MPI_Info_set(in, "mpi_assert_no_any_tag", "true");
    MPI_Info_set(in, "mpi_assert_exact_length", "1");
    CHECK(MPI_Comm_set_info(d, in) == MPI_SUCCESS);
    show("set_info(no_any_tag=true, exact_length=1)", d, "ftft");
    MPI_Info_free(&in);
    MPI_Info_create(&in);
    MPI_Info_set(in, "mpi_assert_no_any_tag", "false");
    MPI_Info_set(in, "mpi_assert_no_any_source", "true");
    CHECK(MPI_Comm_set_info(d, in) == MPI_SUCCESS);
    show("set_info(no_any_tag=false, no_any_source=true)", d, "tfft");
    MPI_Info_free(&in);
    MPI_Info_create(&in);
    MPI_Info_set(in, "mpi_assert_allow_overtaking", "yes");
    MPI_Info_set(in, "mpi_assert_no_any_source", "0");
    CHECK(MPI_Comm_set_info(d, in) == MPI_SUCCESS);
    show("set_info(allow_overtaking=yes, no_any_source=0)", d, "ffft");
    MPI_Info_free(&in);

    MPI_Comm_free(&a);
    MPI_Comm_free(&c);
    MPI_Comm_free(&d);
    MPI_Comm_free(&e);
    if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return fails != 0;
}
