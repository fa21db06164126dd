/* MPI_Dims_create balances: dimensions as close to each other as possible, in
 * non-increasing order, the caller's nonzero entries kept (MPI-3.1 §7.5.2). The
 * expected values are MPICH's answers; the program also prints them, compared line
 * for line with MPICH by the test driver. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int fails = 0, rank = -1;

struct t { int nnodes, ndims, in[4], want[4]; };

static const struct t cases[] = {
    {72, 2, {0, 0}, {9, 8}},
    {24, 3, {0, 0, 0}, {4, 3, 2}},
    {16, 4, {0, 0, 0, 0}, {2, 2, 2, 2}},
    {7, 2, {0, 0}, {7, 1}},
    {36, 3, {0, 3, 0}, {4, 3, 3}},
    {36, 3, {0, 0, 0}, {4, 3, 3}},
    {12, 2, {0, 0}, {4, 3}},
    {6, 2, {0, 0}, {3, 2}},
    {30, 3, {0, 0, 0}, {5, 3, 2}},
    {64, 3, {0, 0, 0}, {4, 4, 4}},
    {100, 2, {0, 0}, {10, 10}},
    {60, 3, {0, 0, 0}, {5, 4, 3}},
    {360, 4, {0, 0, 0, 0}, {6, 5, 4, 3}},
    {210, 4, {0, 0, 0, 0}, {7, 5, 3, 2}},
    {48, 3, {0, 0, 0}, {4, 4, 3}},
    {90, 3, {0, 0, 0}, {6, 5, 3}},
    {1024, 3, {0, 0, 0}, {16, 8, 8}},
    {96, 4, {0, 0, 0, 0}, {4, 4, 3, 2}},
    {120, 3, {0, 0, 0}, {6, 5, 4}},
    {1, 3, {0, 0, 0}, {1, 1, 1}},
    {2, 3, {0, 0, 0}, {2, 1, 1}},
    {72, 3, {2, 0, 0}, {2, 6, 6}},
    {120, 4, {0, 0, 5, 0}, {4, 3, 5, 2}},
    {12, 3, {0, 3, 0}, {2, 3, 2}},
    {8, 3, {0, 0, 0}, {2, 2, 2}},
    {5, 1, {0}, {5}},
    {6, 2, {3, 2}, {3, 2}},
};

int main(int argc, char **argv) {
    int size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (unsigned k = 0; k < sizeof cases / sizeof *cases; k++) {
        const struct t *c = &cases[k];
        int d[4], i, ok = 1;
        for (i = 0; i < c->ndims; i++) d[i] = c->in[i];
        int rc = MPI_Dims_create(c->nnodes, c->ndims, d);
        for (i = 0; i < c->ndims; i++) ok &= d[i] == c->want[i];
        if (rc != MPI_SUCCESS || !ok) {
            fails++;
            printf("rank %d: FAIL MPI_Dims_create(%d, %d): rc %d,", rank, c->nnodes, c->ndims, rc);
            for (i = 0; i < c->ndims; i++) printf(" %d", d[i]);
            printf("\n");
        }
        if (rank == 0) {
            printf("dims %d/%d:", c->nnodes, c->ndims);
            for (i = 0; i < c->ndims; i++) printf(" %d", d[i]);
            printf("\n");
        }
    }
    /* The number of ranks, in 2 and 3 dimensions, as a program would ask. */
    if (rank == 0) {
        int d2[2] = {0, 0}, d3[3] = {0, 0, 0};
        MPI_Dims_create(size, 2, d2);
        MPI_Dims_create(size, 3, d3);
        printf("dims size %d: %d %d / %d %d %d\n", size, d2[0], d2[1], d3[0], d3[1], d3[2]);
    }
    /* An impossible request is an error (MPI_ERR_DIMS), not a silent answer. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    {
        int d[2] = {0, 5}, cls = -1;
        int rc = MPI_Dims_create(12, 2, d);
        MPI_Error_class(rc, &cls);
        if (cls != MPI_ERR_DIMS) { fails++; printf("rank %d: FAIL 12 over {0,5}: class %d\n", rank, cls); }
    }
    /* Rank 0 prints every rank's verdict: lines written by several ranks at once
     * can be interleaved mid-line by a launcher (Hydra does), which made the
     * comparison with MPICH's output flaky. */
    {
        int *all = malloc(sizeof(int) * (size_t)size), r;
        MPI_Gather(&fails, 1, MPI_INT, all, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (rank == 0)
            for (r = 0; r < size; r++)
                if (all[r] == 0) printf("rank %d of %d: PASS\n", r, size);
        free(all);
    }
    MPI_Finalize();
    return fails != 0;
}
