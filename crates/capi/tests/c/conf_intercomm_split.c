/* MPI_Comm_split and MPI_Comm_split_type on an intercommunicator: each group
 * splits, the ranks of one color on both sides form an intercommunicator, and a
 * color found in one group only (or MPI_UNDEFINED) gets MPI_COMM_NULL. The
 * groups and the point-to-point traffic across each new intercommunicator are
 * checked; the sizes are printed and compared with MPICH. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

static void describe(const char *what, MPI_Comm c) {
    if (c == MPI_COMM_NULL) {
        printf("rank %d: %s null\n", rank, what);
        return;
    }
    int inter = 0, lsize, lrank, rsize = -1;
    MPI_Comm_test_inter(c, &inter);
    MPI_Comm_size(c, &lsize);
    MPI_Comm_rank(c, &lrank);
    if (inter)
        MPI_Comm_remote_size(c, &rsize);
    printf("rank %d: %s inter %d local %d of %d remote %d\n", rank, what, inter, lrank, lsize, rsize);
    /* Rank i of each side sends its world rank to rank i of the other side, as far
     * as both sides have one; every message arrives. */
    if (inter) {
        int got = -1;
        if (lrank < rsize) {
            CHECK(MPI_Sendrecv(&rank, 1, MPI_INT, lrank, 5, &got, 1, MPI_INT, lrank, 5, c, MPI_STATUS_IGNORE) ==
                  MPI_SUCCESS);
            CHECK(got >= 0 && got != rank);
        }
    }
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len;
    MPI_Get_library_version(lib, &len);
    int is_vmpi = strstr(lib, "vmpi") != NULL;
    if (size < 2) {
        printf("rank %d of %d: PASS\n", rank, size);
        MPI_Finalize();
        return 0;
    }
    /* Even and odd world ranks, joined. */
    MPI_Comm half, inter;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    MPI_Intercomm_create(half, 0, MPI_COMM_WORLD, rank % 2 ? 0 : 1, 7, &inter);

    /* Colors by rank / 2: pairs (0,1), (2,3), ... meet across; with an odd size
     * the last rank's color is in its group only. Keys reverse the order. */
    MPI_Comm a;
    CHECK(MPI_Comm_split(inter, rank / 2, -rank, &a) == MPI_SUCCESS);
    describe("split by rank/2", a);
    if (a != MPI_COMM_NULL)
        MPI_Comm_free(&a);

    /* One color for everyone but world rank 0 (undefined). */
    CHECK(MPI_Comm_split(inter, rank == 0 ? MPI_UNDEFINED : 3, rank, &a) == MPI_SUCCESS);
    describe("split all but 0", a);
    /* Merged, it is an ordinary communicator (checked on vmpi only: MPICH 4.0.2
     * hangs merging an intercommunicator made by MPI_Comm_split on 3+ ranks). */
    if (a != MPI_COMM_NULL && is_vmpi) {
        int one = 1, sum = 0;
        MPI_Comm m;
        CHECK(MPI_Intercomm_merge(a, rank % 2, &m) == MPI_SUCCESS);
        CHECK(MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, m) == MPI_SUCCESS && sum == size - 1);
        MPI_Comm_free(&m);
    }
    if (a != MPI_COMM_NULL)
        MPI_Comm_free(&a);

    /* Shared memory: every rank of this test runs on one host, so the new
     * intercommunicator has both groups whole. Checked, not printed: MPICH 4.0.2
     * hangs here on 3 or more ranks, so the comparison run leaves it out. */
    if (is_vmpi) {
        CHECK(MPI_Comm_split_type(inter, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &a) == MPI_SUCCESS);
        int isinter = 0, l = 0, r = 0, hl = 0, hr = 0;
        CHECK(a != MPI_COMM_NULL);
        if (a != MPI_COMM_NULL) {
            MPI_Comm_test_inter(a, &isinter);
            MPI_Comm_size(a, &l);
            MPI_Comm_remote_size(a, &r);
            MPI_Comm_size(inter, &hl);
            MPI_Comm_remote_size(inter, &hr);
            CHECK(isinter && l == hl && r == hr);
            MPI_Comm_free(&a);
        }
    }

    MPI_Comm_free(&inter);
    MPI_Comm_free(&half);
    if (!fails)
        printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return fails != 0;
}
