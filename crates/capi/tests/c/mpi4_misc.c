/* MPI-4 additions beside the large counts: MPI_Comm_idup_with_info (the new
 * communicator works once its request completes, and carries the given hints, not
 * the parent's), MPI_Info_create_env and MPI_Info_get_string (size query with
 * buflen 0, truncation, a missing key), and a session's error handler:
 * MPI_Session_create_errhandler / set / get / call. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

static int calls = 0, last_code = 0;
static MPI_Session last_session = MPI_SESSION_NULL;
static void on_error(MPI_Session *s, int *code, ...) {
    calls++;
    last_code = *code;
    last_session = *s;
}

int main(int argc, char **argv) {
    int size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len;
    MPI_Get_library_version(lib, &len);
    int vmpi = strstr(lib, "vmpi") != NULL;

    /* MPI_Comm_idup_with_info */
    {
        MPI_Info in;
        MPI_Info_create(&in);
        MPI_Info_set(in, "vmpi_test_hint", "yes");
        MPI_Comm_set_info(MPI_COMM_WORLD, in);
        MPI_Info_free(&in);
        MPI_Info hint;
        MPI_Info_create(&hint);
        MPI_Info_set(hint, "mpi_assert_no_any_tag", "true");
        MPI_Comm dup;
        MPI_Request rq;
        CHECK(MPI_Comm_idup_with_info(MPI_COMM_WORLD, hint, &dup, &rq) == MPI_SUCCESS);
        MPI_Info_free(&hint);
        MPI_Wait(&rq, MPI_STATUS_IGNORE);
        int one = 1, sum = 0, res;
        MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, dup);
        CHECK(sum == size);
        MPI_Comm_compare(dup, MPI_COMM_WORLD, &res);
        CHECK(res == MPI_CONGRUENT);
        if (vmpi) {
            MPI_Info used;
            int flag;
            char v[64];
            MPI_Comm_get_info(dup, &used);
            int bl = sizeof v;
            MPI_Info_get_string(used, "mpi_assert_no_any_tag", &bl, v, &flag);
            CHECK(flag && strcmp(v, "true") == 0);
            bl = sizeof v;
            MPI_Info_get_string(used, "vmpi_test_hint", &bl, v, &flag);
            CHECK(!flag); /* the parent's hints are not carried over */
            MPI_Info_free(&used);
        }
        MPI_Comm_free(&dup);
        /* MPI_INFO_NULL */
        CHECK(MPI_Comm_idup_with_info(MPI_COMM_WORLD, MPI_INFO_NULL, &dup, &rq) == MPI_SUCCESS);
        MPI_Wait(&rq, MPI_STATUS_IGNORE);
        MPI_Barrier(dup);
        MPI_Comm_free(&dup);
    }

    /* MPI_Info_get_string */
    {
        MPI_Info i;
        int flag = -1, bl;
        char v[8];
        MPI_Info_create(&i);
        MPI_Info_set(i, "k", "0123456789");
        bl = 0;
        MPI_Info_get_string(i, "k", &bl, v, &flag);
        CHECK(flag == 1 && bl == 11);
        bl = sizeof v;
        memset(v, 'x', sizeof v);
        MPI_Info_get_string(i, "k", &bl, v, &flag);
        CHECK(flag == 1 && bl == 11 && strcmp(v, "0123456") == 0);
        char big[32];
        bl = sizeof big;
        MPI_Info_get_string(i, "k", &bl, big, &flag);
        CHECK(flag == 1 && bl == 11 && strcmp(big, "0123456789") == 0);
        bl = sizeof big;
        MPI_Info_get_string(i, "absent", &bl, big, &flag);
        CHECK(flag == 0);
        MPI_Info_free(&i);
    }

    /* MPI_Info_create_env */
    {
        MPI_Info e;
        CHECK(MPI_Info_create_env(argc, argv, &e) == MPI_SUCCESS);
        int nkeys = 0;
        MPI_Info_get_nkeys(e, &nkeys);
        if (vmpi) {
            char cmd[1024];
            int bl = sizeof cmd, flag;
            MPI_Info_get_string(e, "command", &bl, cmd, &flag);
            CHECK(flag && strcmp(cmd, argv[0]) == 0);
            CHECK(nkeys >= 2);
        }
        MPI_Info_free(&e);
        CHECK(MPI_Info_create_env(0, NULL, &e) == MPI_SUCCESS);
        MPI_Info_free(&e);
    }

    /* session error handlers */
    {
        MPI_Session s;
        MPI_Errhandler eh, got;
        CHECK(MPI_Session_init(MPI_INFO_NULL, MPI_ERRORS_RETURN, &s) == MPI_SUCCESS);
        /* (MPICH 4.0 does not keep MPI_Session_init's handler: set it again) */
        CHECK(MPI_Session_set_errhandler(s, MPI_ERRORS_RETURN) == MPI_SUCCESS);
        MPI_Session_get_errhandler(s, &got);
        CHECK(got == MPI_ERRORS_RETURN);
        CHECK(MPI_Session_call_errhandler(s, MPI_ERR_OTHER) == MPI_SUCCESS);
        CHECK(calls == 0);
        CHECK(MPI_Session_create_errhandler(on_error, &eh) == MPI_SUCCESS);
        CHECK(MPI_Session_set_errhandler(s, eh) == MPI_SUCCESS);
        MPI_Session_get_errhandler(s, &got);
        int cmp = (got == eh);
        if (got != MPI_ERRORS_RETURN && got != eh) MPI_Errhandler_free(&got);
        CHECK(cmp || vmpi == 0);
        CHECK(MPI_Session_call_errhandler(s, MPI_ERR_ARG) == MPI_SUCCESS);
        CHECK(calls == 1 && last_code == MPI_ERR_ARG && last_session == s);
        MPI_Errhandler_free(&eh);
        MPI_Session_set_errhandler(s, MPI_ERRORS_RETURN);
        MPI_Session_finalize(&s);
    }

    printf("rank %d of %d: %s\n", rank, size, fails ? "FAIL" : "PASS");
    MPI_Finalize();
    return 0;
}
