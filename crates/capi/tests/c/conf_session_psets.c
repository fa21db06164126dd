/* MPI-4 sessions: the process set names are matched without regard to case, so
 * mpi://self and mpi://world resolve like mpi://SELF and mpi://WORLD in
 * MPI_Group_from_session_pset and MPI_Session_get_pset_info (newer MPICH does the
 * same; MPICH 4.0 rejects the lower-case names in get_pset_info). (An unknown
 * name is an error, but vmpi raises session calls' errors on MPI_COMM_WORLD's
 * handler, fatal here, not on the session's: not checked.) */
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

static int group_size(MPI_Session s, const char *name) {
    MPI_Group g = MPI_GROUP_NULL;
    int n = -1;
    if (MPI_Group_from_session_pset(s, name, &g) != MPI_SUCCESS) return -1;
    MPI_Group_size(g, &n);
    MPI_Group_free(&g);
    return n;
}

static int info_size(MPI_Session s, const char *name) {
    MPI_Info i = MPI_INFO_NULL;
    char v[32] = "";
    int flag = 0;
    if (MPI_Session_get_pset_info(s, name, &i) != MPI_SUCCESS) return -1;
    MPI_Info_get(i, "mpi_size", sizeof v - 1, v, &flag);
    MPI_Info_free(&i);
    return flag ? atoi(v) : -2;
}

int main(void) {
    MPI_Session s;
    CHECK(MPI_Session_init(MPI_INFO_NULL, MPI_ERRORS_RETURN, &s) == MPI_SUCCESS);
    int size = group_size(s, "mpi://WORLD");
    CHECK(size >= 1);
    {
        MPI_Group g;
        MPI_Group_from_session_pset(s, "mpi://world", &g);
        MPI_Comm c;
        CHECK(MPI_Comm_create_from_group(g, "org.vmpi.conf.world", MPI_INFO_NULL, MPI_ERRORS_RETURN, &c) == MPI_SUCCESS);
        MPI_Comm_rank(c, &rank);
        int one = 1, sum = 0;
        MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, c);
        CHECK(sum == size);
        MPI_Comm_free(&c);
        MPI_Group_free(&g);
    }
    CHECK(group_size(s, "mpi://world") == size);
    CHECK(group_size(s, "mpi://World") == size);
    CHECK(group_size(s, "mpi://self") == 1);
    CHECK(group_size(s, "mpi://SELF") == 1);
    CHECK(group_size(s, "mpi://Self") == 1);
    CHECK(info_size(s, "mpi://WORLD") == size);
    CHECK(info_size(s, "mpi://world") == size);
    CHECK(info_size(s, "mpi://SELF") == 1);
    CHECK(info_size(s, "mpi://self") == 1);
    /* the self group is this process */
    {
        MPI_Group sg, wg;
        MPI_Group_from_session_pset(s, "mpi://self", &sg);
        MPI_Group_from_session_pset(s, "mpi://world", &wg);
        int zero = 0, inw = -1;
        MPI_Group_translate_ranks(sg, 1, &zero, wg, &inw);
        CHECK(inw == rank);
        MPI_Group_free(&sg);
        MPI_Group_free(&wg);
    }
    if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
    CHECK(MPI_Session_finalize(&s) == MPI_SUCCESS);
    return fails != 0;
}
