/* MPI-4 sessions: the process sets mpi://WORLD and mpi://SELF, groups from them,
 * communicators from those groups with point-to-point, and finalize. No MPI_Init. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

int main(void) {
    MPI_Session s;
    CHECK(MPI_Session_init(MPI_INFO_NULL, MPI_ERRORS_RETURN, &s) == MPI_SUCCESS);
    int np = 0, i, world = 0, self = 0;
    MPI_Session_get_num_psets(s, MPI_INFO_NULL, &np);
    CHECK(np >= 2);
    for (i = 0; i < np; i++) {
        char name[MPI_MAX_PSET_NAME_LEN];
        int len = 0;
        MPI_Session_get_nth_pset(s, MPI_INFO_NULL, i, &len, NULL);
        CHECK(len > 0 && len <= MPI_MAX_PSET_NAME_LEN);
        MPI_Session_get_nth_pset(s, MPI_INFO_NULL, i, &len, name);
        CHECK((int)strlen(name) == len - 1);
        if (!strcmp(name, "mpi://WORLD")) world = 1;
        if (!strcmp(name, "mpi://SELF")) self = 1;
    }
    CHECK(world && self);
    MPI_Group g;
    MPI_Group_from_session_pset(s, "mpi://WORLD", &g);
    MPI_Comm c;
    MPI_Comm_create_from_group(g, "org.vmpi.test", MPI_INFO_NULL, MPI_ERRORS_RETURN, &c);
    int size;
    MPI_Comm_rank(c, &rank);
    MPI_Comm_size(c, &size);
    int gs; MPI_Group_size(g, &gs); CHECK(gs == size);
    int v = rank, got = -1;
    MPI_Sendrecv(&v, 1, MPI_INT, (rank + 1) % size, 0, &got, 1, MPI_INT, (rank + size - 1) % size, 0, c, MPI_STATUS_IGNORE);
    CHECK(got == (rank + size - 1) % size);
    MPI_Errhandler eh; MPI_Comm_get_errhandler(c, &eh); CHECK(eh == MPI_ERRORS_RETURN);
    MPI_Group sg;
    MPI_Group_from_session_pset(s, "mpi://SELF", &sg);
    MPI_Group_size(sg, &gs); CHECK(gs == 1);
    MPI_Comm sc;
    MPI_Comm_create_from_group(sg, "org.vmpi.self", MPI_INFO_NULL, MPI_ERRORS_RETURN, &sc);
    int ss; MPI_Comm_size(sc, &ss); CHECK(ss == 1);
    MPI_Comm_free(&sc);
    MPI_Group_free(&sg);
    MPI_Comm_free(&c);
    MPI_Group_free(&g);
    if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
    CHECK(MPI_Session_finalize(&s) == MPI_SUCCESS);
    CHECK(s == MPI_SESSION_NULL);
    return fails != 0;
}
