/* MPI_Intercomm_create_from_groups: the even and the odd ranks of
 * MPI_COMM_WORLD, the leaders the last rank of each group;
 * sizes, remote group, a message between local ranks 0, a merge and an
 * allreduce over it; argument errors under MPI_ERRORS_RETURN. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

int main(int argc, char **argv) {
    int size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Group world, even, odd;
    MPI_Comm_group(MPI_COMM_WORLD, &world);
    int ne = (size + 1) / 2, no = size / 2;
    int *e = malloc(ne * sizeof(int)), *o = malloc((no + 1) * sizeof(int));
    for (int i = 0; i < ne; i++) e[i] = 2 * i;
    for (int i = 0; i < no; i++) o[i] = 2 * i + 1;
    MPI_Group_incl(world, ne, e, &even);
    MPI_Group_incl(world, no, o, &odd);
    int mine_even = rank % 2 == 0;
    MPI_Group local = mine_even ? even : odd, remote = mine_even ? odd : even;
    int rsize = mine_even ? no : ne;
    MPI_Comm ic;
    CHECK(MPI_Intercomm_create_from_groups(local, (mine_even ? ne : no) - 1, remote, rsize - 1, "vmpi-test-tag", MPI_INFO_NULL, MPI_ERRORS_RETURN, &ic) == MPI_SUCCESS);
    int flag, ls, rs, lr;
    MPI_Comm_test_inter(ic, &flag);
    MPI_Comm_size(ic, &ls);
    MPI_Comm_remote_size(ic, &rs);
    MPI_Comm_rank(ic, &lr);
    CHECK(flag == 1 && ls == (mine_even ? ne : no) && rs == rsize && lr == rank / 2);
    MPI_Group rg;
    MPI_Comm_remote_group(ic, &rg);
    int cmp;
    MPI_Group_compare(rg, remote, &cmp);
    CHECK(cmp == MPI_IDENT);
    /* rank 0 of each side talks to rank 0 of the other */
    if (lr == 0) {
        int got = -1, mine = 100 + rank;
        MPI_Sendrecv(&mine, 1, MPI_INT, 0, 9, &got, 1, MPI_INT, 0, 9, ic, MPI_STATUS_IGNORE);
        CHECK(got == 100 + (mine_even ? 1 : 0));
    }
    MPI_Comm m;
    CHECK(MPI_Intercomm_merge(ic, !mine_even, &m) == MPI_SUCCESS);
    int sum = 0, one = rank;
    MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, m);
    CHECK(sum == size * (size - 1) / 2);
    int mr;
    MPI_Comm_rank(m, &mr);
    printf("rank %d: intercomm local rank %d, remote size %d, merged rank %d\n", rank, lr, rs, mr);
    MPI_Comm_free(&m);
    MPI_Comm_free(&ic);
    /* errors */
    MPI_Comm x;
    int rc = MPI_Intercomm_create_from_groups(local, ls, remote, 0, "t2", MPI_INFO_NULL, MPI_ERRORS_RETURN, &x), cls;
    MPI_Error_class(rc, &cls);
    printf("rank %d: bad local_leader -> %s\n", rank, cls == MPI_SUCCESS ? "success" : "error");
    MPI_Group_free(&rg); MPI_Group_free(&even); MPI_Group_free(&odd); MPI_Group_free(&world);
    free(e); free(o);
    if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return 0;
}
