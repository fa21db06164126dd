/* MPI_ERRORS_ARE_FATAL (the default): a bad count ends the whole job with a
 * message naming the call, the argument and the rank. */
#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
    int rank, x = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 1 || rank == 0) {
        MPI_Barrier(MPI_COMM_WORLD);
    }
    if (rank == 1) MPI_Send(&x, -1, MPI_INT, 0, 0, MPI_COMM_WORLD);
    if (rank == 0) MPI_Recv(&x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    printf("not reached\n");
    MPI_Finalize();
    return 0;
}
