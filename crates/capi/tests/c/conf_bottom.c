/* Collectives take MPI_BOTTOM as the buffer when the datatypes hold absolute
 * addresses (as point-to-point does, and MPICH and Open MPI): Alltoallv,
 * Alltoallw, Ialltoallw, Allgather and Gatherv from MPI_BOTTOM, checked value by
 * value; the results are printed and compared with MPICH. */
#include <mpi.h>
#include <stdio.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

/* One int at the absolute address of p. */
static MPI_Datatype at(void *p) {
    MPI_Datatype t;
    MPI_Aint a;
    int one = 1;
    MPI_Get_address(p, &a);
    MPI_Type_create_hindexed(1, &one, &a, MPI_INT, &t);
    MPI_Type_commit(&t);
    return t;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int sb[8], rb[8], counts[8], zeros[8], displs[8];
    MPI_Datatype st[8], rt[8];
    for (int i = 0; i < size; i++) {
        sb[i] = rank * 100 + i;
        st[i] = at(&sb[i]);
        rt[i] = MPI_INT;
        counts[i] = 1;
        zeros[i] = 0;
        displs[i] = i * (int)sizeof(int);
    }
    /* Alltoallw: each block is its own absolute type. */
    for (int i = 0; i < size; i++) rb[i] = -1;
    CHECK(MPI_Alltoallw(MPI_BOTTOM, counts, zeros, st, rb, counts, displs, rt, MPI_COMM_WORLD) == MPI_SUCCESS);
    for (int i = 0; i < size; i++) CHECK(rb[i] == i * 100 + rank);
    /* Ialltoallw, the same exchange. */
    for (int i = 0; i < size; i++) rb[i] = -1;
    MPI_Request r;
    CHECK(MPI_Ialltoallw(MPI_BOTTOM, counts, zeros, st, rb, counts, displs, rt, MPI_COMM_WORLD, &r) == MPI_SUCCESS);
    MPI_Wait(&r, MPI_STATUS_IGNORE);
    for (int i = 0; i < size; i++) CHECK(rb[i] == i * 100 + rank);
    /* Alltoallv: one absolute type at sb[0], blocks apart by one int. */
    for (int i = 0; i < size; i++) rb[i] = -1;
    int one[8];
    for (int i = 0; i < size; i++) one[i] = i;
    CHECK(MPI_Alltoallv(MPI_BOTTOM, counts, one, st[0], rb, counts, one, MPI_INT, MPI_COMM_WORLD) == MPI_SUCCESS);
    for (int i = 0; i < size; i++) CHECK(rb[i] == i * 100 + rank);
    /* Allgather and Gatherv sending from MPI_BOTTOM. */
    for (int i = 0; i < size; i++) rb[i] = -1;
    CHECK(MPI_Allgather(MPI_BOTTOM, 1, st[0], rb, 1, MPI_INT, MPI_COMM_WORLD) == MPI_SUCCESS);
    for (int i = 0; i < size; i++) CHECK(rb[i] == i * 100);
    for (int i = 0; i < size; i++) rb[i] = -1;
    CHECK(MPI_Gatherv(MPI_BOTTOM, 1, st[0], rb, counts, one, MPI_INT, 0, MPI_COMM_WORLD) == MPI_SUCCESS);
    if (rank == 0)
        for (int i = 0; i < size; i++) CHECK(rb[i] == i * 100);
    /* A null buffer with plain types is still a mistake. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rc = MPI_Alltoallv(NULL, counts, one, MPI_INT, rb, counts, one, MPI_INT, MPI_COMM_WORLD), cls = -1;
    MPI_Error_class(rc, &cls);
    if (rank == 0)
        printf("alltoallv from NULL with MPI_INT: class %s\n", cls == MPI_ERR_BUFFER ? "MPI_ERR_BUFFER" : "other");
    for (int i = 0; i < size; i++) MPI_Type_free(&st[i]);
    if (!fails)
        printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return fails != 0;
}
