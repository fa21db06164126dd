/* The Fortran 2008 status conversions and MPI_DUP_FN as a function: a status
 * goes C -> F08 -> Fortran array -> F08 -> C unchanged, and an attribute with the
 * copy callback MPI_COMM_DUP_FN is copied by MPI_Comm_dup. (MPICH 4.0.2 declares the
 * four conversions in mpi.h but defines them only in its Fortran library.) */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size, bad = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Status s, back;
    s.MPI_SOURCE = 3;
    s.MPI_TAG = 7;
    s.MPI_ERROR = MPI_ERR_TRUNCATE;
    MPI_F08_status f;
    MPI_Fint fi[MPI_F_STATUS_SIZE];
    if (MPI_Status_c2f08(&s, &f) || MPI_Status_f082f(&f, fi) || MPI_Status_f2f08(fi, &f) ||
        MPI_Status_f082c(&f, &back))
        bad++;
    if (back.MPI_SOURCE != 3 || back.MPI_TAG != 7 || back.MPI_ERROR != MPI_ERR_TRUNCATE ||
        fi[MPI_F_SOURCE] != 3 || fi[MPI_F_TAG] != 7 || f.MPI_SOURCE != 3)
        bad++;
    int k, v = 5, *got = NULL, flag = 0;
    MPI_Comm c;
    MPI_Comm_create_keyval(MPI_COMM_DUP_FN, MPI_COMM_NULL_DELETE_FN, &k, NULL);
    MPI_Comm_set_attr(MPI_COMM_WORLD, k, &v);
    MPI_Comm_dup(MPI_COMM_WORLD, &c);
    MPI_Comm_get_attr(c, k, &got, &flag);
    if (!flag || got != &v) bad++;
    void *copied = NULL;
    flag = 0;
    if (MPI_DUP_FN(MPI_COMM_WORLD, k, NULL, &v, &copied, &flag) != MPI_SUCCESS || !flag ||
        copied != &v)
        bad++;
    MPI_Comm_free(&c);
    MPI_Comm_delete_attr(MPI_COMM_WORLD, k);
    MPI_Comm_free_keyval(&k);
    printf("rank %d of %d: %s\n", rank, size, bad ? "FAIL" : "PASS");
    MPI_Finalize();
    return bad;
}
