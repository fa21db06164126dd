/* MPI_Allgatherv with equal counts, where each rank lays its receive buffer out
 * its own way (the displacements are local: rank 0 in rank order, the others
 * reversed or spread out). Every rank must take the same path and get every
 * block where its displacements say; small and medium sizes, in place too. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int counts[16], displs[16];
    for (int blk = 1; blk <= 4096; blk *= 8) {
        for (int inplace = 0; inplace < 2; inplace++) {
            int span = size * blk * 2;
            int *recv = malloc(sizeof(int) * span), *send = malloc(sizeof(int) * blk);
            for (int i = 0; i < size; i++) {
                counts[i] = blk;
                displs[i] = rank == 0 ? i * blk : rank % 2 ? (size - 1 - i) * blk : i * 2 * blk;
            }
            for (int k = 0; k < span; k++) recv[k] = -1;
            for (int k = 0; k < blk; k++) send[k] = rank * 100000 + k;
            if (inplace)
                for (int k = 0; k < blk; k++) recv[displs[rank] + k] = send[k];
            CHECK(MPI_Allgatherv(inplace ? MPI_IN_PLACE : send, blk, MPI_INT, recv, counts, displs, MPI_INT,
                                 MPI_COMM_WORLD) == MPI_SUCCESS);
            for (int i = 0; i < size; i++)
                for (int k = 0; k < blk; k++)
                    if (recv[displs[i] + k] != i * 100000 + k) {
                        fails++;
                        printf("rank %d: FAIL blk %d inplace %d: block %d word %d is %d\n", rank, blk, inplace, i, k,
                               recv[displs[i] + k]);
                        i = size;
                        break;
                    }
            free(recv);
            free(send);
        }
    }
    if (!fails)
        printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return fails != 0;
}
