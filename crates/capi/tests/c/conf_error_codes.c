/* User error classes and codes (MPI-3.1 §8.5): MPI_LASTUSEDCODE starts at
 * MPI_ERR_LASTCODE and follows the largest class or code added; classes and codes
 * from MPI_Add_error_class/code are above MPI_ERR_LASTCODE (and so never collide
 * with the library's own); MPI_Error_class maps a code to its class, and
 * MPI_Error_string works on both (an empty string until one is added).
 * MPICH's MPI_LASTUSEDCODE follows the classes only (its codes are numbered
 * above them); vmpi's follows codes too, as §8.5 asks, checked under vmpi only. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

static int lastused(void) {
    int *v = NULL, flag = 0;
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_LASTUSEDCODE, &v, &flag);
    CHECK(flag && v);
    return flag && v ? *v : -1;
}

int main(int argc, char **argv) {
    int size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);

    char ver[MPI_MAX_LIBRARY_VERSION_STRING];
    int vlen;
    MPI_Get_library_version(ver, &vlen);
    int vmpi = strstr(ver, "vmpi") != NULL;
    int l0 = lastused();
    CHECK(l0 == MPI_ERR_LASTCODE);
    int c1, c2, e1, e2, e3, k;
    CHECK(MPI_Add_error_class(&c1) == MPI_SUCCESS);
    CHECK(c1 > MPI_ERR_LASTCODE);
    CHECK(lastused() == c1);
    CHECK(MPI_Add_error_code(c1, &e1) == MPI_SUCCESS);
    CHECK(e1 > MPI_ERR_LASTCODE && e1 != c1);
    CHECK(MPI_Add_error_code(c1, &e2) == MPI_SUCCESS);
    CHECK(e2 > MPI_ERR_LASTCODE && e2 != e1 && e2 != c1);
    CHECK(MPI_Add_error_class(&c2) == MPI_SUCCESS);
    CHECK(c2 > c1 && c2 != e1 && c2 != e2);
    CHECK(lastused() >= c2 && lastused() >= c1);
    /* a code of a predefined class */
    CHECK(MPI_Add_error_code(MPI_ERR_ARG, &e3) == MPI_SUCCESS);
    CHECK(e3 != MPI_ERR_ARG && e3 != e1 && e3 != e2 && e3 != c1 && e3 != c2);
    if (vmpi) {
        int l = lastused();
        CHECK(e3 > MPI_ERR_LASTCODE);
        CHECK(l >= c1 && l >= c2 && l >= e1 && l >= e2 && l >= e3);
        CHECK(l == c1 || l == c2 || l == e1 || l == e2 || l == e3);
    }

    k = -1; MPI_Error_class(c1, &k); CHECK(k == c1);
    k = -1; MPI_Error_class(c2, &k); CHECK(k == c2);
    k = -1; MPI_Error_class(e1, &k); CHECK(k == c1);
    k = -1; MPI_Error_class(e2, &k); CHECK(k == c1);
    k = -1; MPI_Error_class(e3, &k); CHECK(k == MPI_ERR_ARG);
    /* a class that was never added is not one: MPI_ERR_ARG (MPICH accepts it) */
    if (vmpi) {
        int rc = MPI_Add_error_code(c2 + 1000, &k);
        MPI_Error_class(rc, &k);
        CHECK(rc != MPI_SUCCESS && k == MPI_ERR_ARG);
    }

    char s[MPI_MAX_ERROR_STRING];
    int len = -1;
    CHECK(MPI_Error_string(e1, s, &len) == MPI_SUCCESS && len == 0 && s[0] == 0);
    CHECK(MPI_Error_string(c1, s, &len) == MPI_SUCCESS && len == 0);
    CHECK(MPI_Add_error_string(e1, "first user code") == MPI_SUCCESS);
    CHECK(MPI_Add_error_string(c2, "second user class") == MPI_SUCCESS);
    CHECK(MPI_Error_string(e1, s, &len) == MPI_SUCCESS && !strcmp(s, "first user code") && len == 15);
    CHECK(MPI_Error_string(c2, s, &len) == MPI_SUCCESS && !strcmp(s, "second user class"));
    CHECK(MPI_Error_string(e3, s, &len) == MPI_SUCCESS);

    /* a user code raised through an error handler comes back as itself */
    CHECK(MPI_Comm_call_errhandler(MPI_COMM_WORLD, e2) == MPI_SUCCESS);

    /* every process gets the same numbers (the same calls in the same order) */
    int mine[5] = {c1, c2, e1, e2, e3}, root[5];
    memcpy(root, mine, sizeof root);
    MPI_Bcast(root, 5, MPI_INT, 0, MPI_COMM_WORLD);
    CHECK(!memcmp(root, mine, sizeof root));

    if (rank == 0)
        printf("lastused at start = MPI_ERR_LASTCODE: %d; class > MPI_ERR_LASTCODE: %d; first class %#x\n",
               l0 == MPI_ERR_LASTCODE, c1 > MPI_ERR_LASTCODE, c1);
    if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return fails != 0;
}
