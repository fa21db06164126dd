/* MPI_T: cvars are vmpi's runtime parameters (read-only), no pvars, one category,
 * no enums; every call answers with an MPI_T code. Run with MV2_SMP_EAGERSIZE=8192
 * and VMPI_YIELD=never in the environment. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank = -1, fails = 0;
#define CHECK(c, ...) do { if (!(c)) { printf("rank %d: FAIL line %d: ", rank, __LINE__); printf(__VA_ARGS__); printf("\n"); fails++; } } while (0)
#define CODE(call, want) do { int rc_ = (call); CHECK(rc_ == (want), "%s gave %d, want %d", #call, rc_, (want)); } while (0)

static int find(const char *want) {
    int n, i;
    MPI_T_cvar_get_num(&n);
    for (i = 0; i < n; i++) {
        char name[256];
        int len = sizeof name;
        MPI_T_cvar_get_info(i, name, &len, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        if (!strcmp(name, want)) return i;
    }
    return -1;
}

int main(int argc, char **argv) {
    int provided, n, i, size;
    /* Before MPI_T_init_thread: not initialized. */
    CODE(MPI_T_cvar_get_num(&n), MPI_T_ERR_NOT_INITIALIZED);
    CODE(MPI_T_finalize(), MPI_T_ERR_NOT_INITIALIZED);
    /* Usable before MPI_Init, and reference counted. */
    CODE(MPI_T_init_thread(MPI_THREAD_SINGLE, &provided), MPI_SUCCESS);
    CODE(MPI_T_init_thread(MPI_THREAD_SINGLE, &provided), MPI_SUCCESS);
    CODE(MPI_T_finalize(), MPI_SUCCESS);
    CODE(MPI_T_cvar_get_num(&n), MPI_SUCCESS);
    CHECK(n >= 10, "only %d cvars", n);

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    /* Enumerate: every cvar has a name, a description, our bind and scope. */
    int shm = -1;
    for (i = 0; i < n; i++) {
        char name[256], desc[1024];
        int nlen = sizeof name, dlen = sizeof desc, verb, bind, scope;
        MPI_Datatype dt;
        MPI_T_enum et = (MPI_T_enum)1;
        CODE(MPI_T_cvar_get_info(i, name, &nlen, &verb, &dt, &et, desc, &dlen, &bind, &scope), MPI_SUCCESS);
        CHECK(nlen == (int)strlen(name) + 1, "%s: name_len %d", name, nlen);
        CHECK(dlen == (int)strlen(desc) + 1 && dlen > 5, "%s: desc_len %d", name, dlen);
        CHECK(dt == MPI_INT || dt == MPI_CHAR, "%s: datatype %#x", name, (unsigned)dt);
        CHECK(et == MPI_T_ENUM_NULL, "%s: enumtype", name);
        CHECK(bind == MPI_T_BIND_NO_OBJECT, "%s: bind %d", name, bind);
        CHECK(scope == MPI_T_SCOPE_READONLY, "%s: scope %d", name, scope);
        CHECK(verb >= MPI_T_VERBOSITY_USER_BASIC && verb <= MPI_T_VERBOSITY_MPIDEV_ALL, "%s: verbosity %d", name, verb);
        if (!strcmp(name, "MV2_USE_SHARED_MEM")) {
            shm = i;
            CHECK(strstr(desc, "shared memory") != NULL, "MV2_USE_SHARED_MEM description: %s", desc);
            CHECK(dt == MPI_INT, "MV2_USE_SHARED_MEM is numeric");
        }
    }
    CHECK(shm >= 0, "MV2_USE_SHARED_MEM is not a cvar");

    /* The string rule: a zero length asks for the length needed; truncation. */
    {
        int len = 0;
        char small[4];
        CODE(MPI_T_cvar_get_info(shm, NULL, &len, NULL, NULL, NULL, NULL, NULL, NULL, NULL), MPI_SUCCESS);
        CHECK(len == (int)strlen("MV2_USE_SHARED_MEM") + 1, "needed length %d", len);
        len = sizeof small;
        CODE(MPI_T_cvar_get_info(shm, small, &len, NULL, NULL, NULL, NULL, NULL, NULL, NULL), MPI_SUCCESS);
        CHECK(len == 4 && !strcmp(small, "MV2"), "truncated to '%s' (%d)", small, len);
    }

    /* Reads: the environment's value, else the default. */
    {
        MPI_T_cvar_handle h;
        int count, v = -1;
        int eager = find("MV2_SMP_EAGERSIZE");
        CHECK(eager >= 0, "MV2_SMP_EAGERSIZE is not a cvar");
        CODE(MPI_T_cvar_handle_alloc(eager, NULL, &h, &count), MPI_SUCCESS);
        CHECK(count == 1, "count %d", count);
        CODE(MPI_T_cvar_read(h, &v), MPI_SUCCESS);
        CHECK(v == 8192, "MV2_SMP_EAGERSIZE reads %d, want 8192 (from the environment)", v);
        /* Read-only. */
        v = 1;
        CODE(MPI_T_cvar_write(h, &v), MPI_T_ERR_CVAR_SET_NEVER);
        CODE(MPI_T_cvar_handle_free(&h), MPI_SUCCESS);
        CHECK(h == MPI_T_CVAR_HANDLE_NULL, "handle not nulled");
        CODE(MPI_T_cvar_handle_free(&h), MPI_T_ERR_INVALID_HANDLE);
        CODE(MPI_T_cvar_read(h, &v), MPI_T_ERR_INVALID_HANDLE);

        int tcp = find("VMPI_TCP_EAGERSIZE");
        CODE(MPI_T_cvar_handle_alloc(tcp, NULL, &h, &count), MPI_SUCCESS);
        CODE(MPI_T_cvar_read(h, &v), MPI_SUCCESS);
        CHECK(v == 65536, "VMPI_TCP_EAGERSIZE reads the default %d", v);
        MPI_T_cvar_handle_free(&h);

        int lim = find("VMPI_UNEXPECTED_LIMIT");
        CODE(MPI_T_cvar_handle_alloc(lim, NULL, &h, &count), MPI_SUCCESS);
        CODE(MPI_T_cvar_read(h, &v), MPI_SUCCESS);
        CHECK(v == 4 << 20, "VMPI_UNEXPECTED_LIMIT reads %d (4M)", v);
        MPI_T_cvar_handle_free(&h);

        int y = find("VMPI_YIELD");
        MPI_Datatype dt;
        MPI_T_cvar_get_info(y, NULL, NULL, NULL, &dt, NULL, NULL, NULL, NULL, NULL);
        CHECK(dt == MPI_CHAR, "VMPI_YIELD is a string");
        CODE(MPI_T_cvar_handle_alloc(y, NULL, &h, &count), MPI_SUCCESS);
        char *s = malloc(count);
        CODE(MPI_T_cvar_read(h, s), MPI_SUCCESS);
        CHECK(!strcmp(s, "never") && count == 6, "VMPI_YIELD reads '%s' (count %d)", s, count);
        CODE(MPI_T_cvar_write(h, "always"), MPI_T_ERR_CVAR_SET_NEVER);
        free(s);
        MPI_T_cvar_handle_free(&h);
    }

    /* Invalid indices. */
    CODE(MPI_T_cvar_get_info(n, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), MPI_T_ERR_INVALID_INDEX);
    CODE(MPI_T_cvar_get_info(-1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), MPI_T_ERR_INVALID_INDEX);
    {
        MPI_T_cvar_handle h;
        int count;
        CODE(MPI_T_cvar_handle_alloc(n, NULL, &h, &count), MPI_T_ERR_INVALID_INDEX);
    }

    /* Performance variables: none; sessions work. */
    {
        int np = -1, count;
        MPI_T_pvar_session s1, s2;
        MPI_T_pvar_handle ph = MPI_T_PVAR_HANDLE_NULL;
        char buf[64];
        CODE(MPI_T_pvar_get_num(&np), MPI_SUCCESS);
        CHECK(np == 0, "%d pvars", np);
        CODE(MPI_T_pvar_get_info(0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), MPI_T_ERR_INVALID_INDEX);
        CODE(MPI_T_pvar_session_create(&s1), MPI_SUCCESS);
        CODE(MPI_T_pvar_session_create(&s2), MPI_SUCCESS);
        CHECK(s1 != s2 && s1 != MPI_T_PVAR_SESSION_NULL, "sessions");
        CODE(MPI_T_pvar_handle_alloc(s1, 0, NULL, &ph, &count), MPI_T_ERR_INVALID_INDEX);
        CODE(MPI_T_pvar_read(s1, ph, buf), MPI_T_ERR_INVALID_HANDLE);
        CODE(MPI_T_pvar_write(s1, ph, buf), MPI_T_ERR_INVALID_HANDLE);
        CODE(MPI_T_pvar_readreset(s1, ph, buf), MPI_T_ERR_INVALID_HANDLE);
        CODE(MPI_T_pvar_start(s1, ph), MPI_T_ERR_INVALID_HANDLE);
        CODE(MPI_T_pvar_stop(s1, ph), MPI_T_ERR_INVALID_HANDLE);
        CODE(MPI_T_pvar_reset(s1, ph), MPI_T_ERR_INVALID_HANDLE);
        CODE(MPI_T_pvar_start(s1, MPI_T_PVAR_ALL_HANDLES), MPI_SUCCESS);
        CODE(MPI_T_pvar_stop(s1, MPI_T_PVAR_ALL_HANDLES), MPI_SUCCESS);
        CODE(MPI_T_pvar_handle_free(s1, &ph), MPI_T_ERR_INVALID_HANDLE);
        CODE(MPI_T_pvar_session_free(&s1), MPI_SUCCESS);
        CHECK(s1 == MPI_T_PVAR_SESSION_NULL, "session not nulled");
        CODE(MPI_T_pvar_session_free(&s1), MPI_T_ERR_INVALID_SESSION);
        CODE(MPI_T_pvar_start(s1, MPI_T_PVAR_ALL_HANDLES), MPI_T_ERR_INVALID_SESSION);
        CODE(MPI_T_pvar_session_free(&s2), MPI_SUCCESS);
    }

    /* Categories: "vmpi" with every cvar. */
    {
        int nc = -1, ncv, npv, ncat, len = 64, dlen = 0, upd = -1;
        char name[64];
        CODE(MPI_T_category_get_num(&nc), MPI_SUCCESS);
        CHECK(nc == 1, "%d categories", nc);
        CODE(MPI_T_category_get_info(0, name, &len, NULL, &dlen, &ncv, &npv, &ncat), MPI_SUCCESS);
        CHECK(!strcmp(name, "vmpi") && ncv == n && npv == 0 && ncat == 0 && dlen > 1,
              "category '%s' %d cvars %d pvars %d categories (desc %d)", name, ncv, npv, ncat, dlen);
        int *idx = malloc(n * sizeof(int));
        CODE(MPI_T_category_get_cvars(0, n, idx), MPI_SUCCESS);
        for (i = 0; i < n; i++) CHECK(idx[i] == i, "cvar %d of the category is %d", i, idx[i]);
        free(idx);
        CODE(MPI_T_category_get_pvars(0, 0, NULL), MPI_SUCCESS);
        CODE(MPI_T_category_get_categories(0, 0, NULL), MPI_SUCCESS);
        CODE(MPI_T_category_get_info(1, NULL, NULL, NULL, NULL, NULL, NULL, NULL), MPI_T_ERR_INVALID_INDEX);
        CODE(MPI_T_category_get_cvars(1, 0, NULL), MPI_T_ERR_INVALID_INDEX);
        CODE(MPI_T_category_changed(&upd), MPI_SUCCESS);
        CHECK(upd == 0, "update number %d", upd);
    }

    /* Enumerations: none (MPI_T_ENUM_NULL is an invalid handle, as in MPICH). */
    {
        int num, v;
        CODE(MPI_T_enum_get_info(MPI_T_ENUM_NULL, &num, NULL, NULL), MPI_T_ERR_INVALID_HANDLE);
        CODE(MPI_T_enum_get_item(MPI_T_ENUM_NULL, 0, &v, NULL, NULL), MPI_T_ERR_INVALID_HANDLE);
    }

    /* Errors never go to an error handler: still here under ERRORS_ARE_FATAL. */
    CODE(MPI_T_finalize(), MPI_SUCCESS);
    CODE(MPI_T_cvar_get_num(&n), MPI_T_ERR_NOT_INITIALIZED);
    CODE(MPI_T_pvar_session_create(NULL), MPI_T_ERR_NOT_INITIALIZED);

    MPI_Barrier(MPI_COMM_WORLD);
    if (!fails) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return fails != 0;
}
