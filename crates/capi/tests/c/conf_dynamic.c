/* Dynamic processes are not supported by vmpi: every function exists (programs
 * and bindings that name them link and load) and fails with its class through
 * the error handler, after its argument checks; a failed spawn sets the new
 * communicator to MPI_COMM_NULL and every error code to MPI_ERR_SPAWN. Only run
 * on vmpi (MPICH would really spawn). */
#include <mpi.h>
#include <stdio.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

static int cls(int rc) {
    int c = -1;
    MPI_Error_class(rc, &c);
    return c;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);

    MPI_Comm inter = MPI_COMM_WORLD;
    int codes[3] = {0, 0, 0};
    char *args[] = {"x", NULL};
    CHECK(cls(MPI_Comm_spawn("./worker", args, 3, MPI_INFO_NULL, 0, MPI_COMM_WORLD, &inter, codes)) == MPI_ERR_SPAWN);
    CHECK(inter == MPI_COMM_NULL);
    CHECK(codes[0] == MPI_ERR_SPAWN && codes[1] == MPI_ERR_SPAWN && codes[2] == MPI_ERR_SPAWN);
    /* Argument checks come first: a bad root is MPI_ERR_ROOT. */
    CHECK(cls(MPI_Comm_spawn("./worker", MPI_ARGV_NULL, 1, MPI_INFO_NULL, size, MPI_COMM_WORLD, &inter,
                             MPI_ERRCODES_IGNORE)) == MPI_ERR_ROOT);

    char *cmds[2] = {"./a", "./b"};
    int maxprocs[2] = {1, 2};
    MPI_Info infos[2] = {MPI_INFO_NULL, MPI_INFO_NULL};
    inter = MPI_COMM_WORLD;
    CHECK(cls(MPI_Comm_spawn_multiple(2, cmds, MPI_ARGVS_NULL, maxprocs, infos, 0, MPI_COMM_WORLD, &inter,
                                      codes)) == MPI_ERR_SPAWN);
    CHECK(inter == MPI_COMM_NULL);

    /* MPI_Comm_get_parent: no process has a parent. */
    MPI_Comm parent = MPI_COMM_WORLD;
    CHECK(MPI_Comm_get_parent(&parent) == MPI_SUCCESS && parent == MPI_COMM_NULL);

    char port[MPI_MAX_PORT_NAME] = "";
    CHECK(cls(MPI_Open_port(MPI_INFO_NULL, port)) == MPI_ERR_PORT);
    CHECK(cls(MPI_Close_port("tag#0$port#1")) == MPI_ERR_PORT);
    MPI_Comm nc = MPI_COMM_WORLD;
    CHECK(cls(MPI_Comm_accept("p", MPI_INFO_NULL, 0, MPI_COMM_WORLD, &nc)) == MPI_ERR_PORT && nc == MPI_COMM_NULL);
    nc = MPI_COMM_WORLD;
    CHECK(cls(MPI_Comm_connect("p", MPI_INFO_NULL, 0, MPI_COMM_WORLD, &nc)) == MPI_ERR_PORT && nc == MPI_COMM_NULL);
    nc = MPI_COMM_WORLD;
    CHECK(cls(MPI_Comm_join(0, &nc)) == MPI_ERR_PORT && nc == MPI_COMM_NULL);
    CHECK(cls(MPI_Publish_name("svc", MPI_INFO_NULL, "p")) == MPI_ERR_SERVICE);
    CHECK(cls(MPI_Unpublish_name("svc", MPI_INFO_NULL, "p")) == MPI_ERR_SERVICE);
    CHECK(cls(MPI_Lookup_name("svc", MPI_INFO_NULL, port)) == MPI_ERR_NAME);

    /* The failures left the job usable. */
    int one = 1, sum = 0;
    CHECK(MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS && sum == size);
    /* MPI_CHAR reduces as a signed char, as in MPICH and Open MPI. */
    signed char c[2] = {-3, 100}, cs[2] = {0, 0};
    CHECK(MPI_Allreduce(c, cs, 2, MPI_CHAR, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS);
    CHECK(cs[0] == (signed char)(-3 * size) && cs[1] == (signed char)(100 * size));

    if (!fails)
        printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return fails != 0;
}
