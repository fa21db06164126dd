/* MPI_Comm_create_group among random subsets: only the members call it, so
 * subsets of consecutive rounds overlap in flight (a rank that is in round k+1
 * but not in round k starts early). Then a barrier and a check allreduce on the
 * new communicator. Every round, every rank draws the same subset (same seed).
 * Built to fail before context agreements named members by their parent rank:
 * "rank 0 sent more data than this rank expects". */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    int rank, size, fails = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Group world;
    MPI_Comm_group(MPI_COMM_WORLD, &world);
    int *members = malloc(size * sizeof(int));
    for (int round = 0; round < 100; round++) {
        srand(round);
        int n = 0, me = -1;
        for (int r = 0; r < size; r++)
            if (rand() % 2) members[n++] = r;
        /* every third round in a shuffled order: group ranks differ from world ranks */
        if (round % 3 == 0)
            for (int i = n - 1; i > 0; i--) {
                int j = rand() % (i + 1), t = members[i];
                members[i] = members[j];
                members[j] = t;
            }
        for (int i = 0; i < n; i++)
            if (members[i] == rank) me = i;
        if (me < 0) continue;
        MPI_Group g;
        MPI_Group_incl(world, n, members, &g);
        MPI_Comm c;
        MPI_Comm_create_group(MPI_COMM_WORLD, g, 0, &c);
        MPI_Barrier(c);
        int crank, csize, sum = 0, expect = 0;
        MPI_Comm_rank(c, &crank);
        MPI_Comm_size(c, &csize);
        if (crank != me || csize != n) {
            fails++;
            printf("rank %d: round %d: rank %d size %d, expected %d %d\n", rank, round, crank, csize, me, n);
        }
        MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, c);
        for (int i = 0; i < n; i++) expect += members[i];
        if (sum != expect) {
            fails++;
            printf("rank %d: round %d: sum %d, expected %d\n", rank, round, sum, expect);
        }
        MPI_Comm_free(&c);
        MPI_Group_free(&g);
    }
    MPI_Group_free(&world);
    free(members);
    if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return 0;
}
