/* An erroneous program: MPI_Ibcast / MPI_Bcast / MPI_Iallreduce with different
 * counts on different ranks. vmpi must report the mismatch on every rank that
 * receives (MPI_ERR_TRUNCATE where it sees the lengths differ, MPI_ERR_OTHER
 * where a rank before it in the algorithm did) and return, never hang; the
 * communicator stays usable for correct calls afterwards. Blocking calls are
 * checked with small counts only: there the ranks may take different paths
 * (shared area or messages) by their own length (docs/collectives.md). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int rank, size, fails = 0;
#define CHECK(c, ...) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: ", rank, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static int cls(int rc) { int c; MPI_Error_class(rc, &c); return c; }

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int *buf = calloc(1 << 20, sizeof(int));
    int counts[] = {10, 5000, 100000};
    for (int k = 0; k < 3; k++) {
        for (int root = 0; root < size; root += size > 2 ? size - 1 : 1) {
            /* the root sends more than the others expect, then less */
            for (int more = 0; more < 2; more++) {
                int n = counts[k];
                if (rank != root) n = more ? n / 2 : n * 2;
                MPI_Request r;
                int rc = MPI_Ibcast(buf, n, MPI_INT, root, MPI_COMM_WORLD, &r);
                CHECK(rc == MPI_SUCCESS, "MPI_Ibcast returned %d", rc);
                MPI_Status st;
                rc = MPI_Wait(&r, &st);
                int c = cls(rc);
                CHECK(c == MPI_SUCCESS || c == MPI_ERR_TRUNCATE || c == MPI_ERR_OTHER, "ibcast: class %d", c);
                int anyerr = rc != MPI_SUCCESS, sum = 0;
                MPI_Allreduce(&anyerr, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
                CHECK(size == 1 || sum > 0, "ibcast count %d root %d: nobody saw the mismatch", counts[k], root);
                CHECK(rank == root || rc != MPI_SUCCESS, "ibcast count %d root %d: a receiver saw no error", counts[k], root);
                if (k > 0) continue;
                rc = MPI_Bcast(buf, n, MPI_INT, root, MPI_COMM_WORLD);
                c = cls(rc);
                CHECK(c == MPI_SUCCESS || c == MPI_ERR_TRUNCATE || c == MPI_ERR_OTHER, "bcast: class %d", c);
                anyerr = rc != MPI_SUCCESS;
                MPI_Allreduce(&anyerr, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
                CHECK(size == 1 || sum > 0, "bcast count %d root %d: nobody saw the mismatch", counts[k], root);
            }
        }
        /* allreduce with different counts (small: the large algorithms cut
         * blocks by count) */
        int n = 10 * (k + 1) + (rank % 2);
        MPI_Request r;
        MPI_Iallreduce(MPI_IN_PLACE, buf, n, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &r);
        int rc = MPI_Wait(&r, MPI_STATUS_IGNORE), anyerr = rc != MPI_SUCCESS, sum = 0;
        MPI_Allreduce(&anyerr, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        CHECK(size == 1 || sum > 0, "iallreduce count %d: nobody saw the mismatch", counts[k]);
    }
    /* still usable */
    int x = rank, s = 0;
    MPI_Allreduce(&x, &s, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    CHECK(s == size * (size - 1) / 2, "allreduce after the errors: %d", s);
    if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
    free(buf);
    MPI_Finalize();
    return 0;
}
