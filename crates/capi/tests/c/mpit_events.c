/* MPI_T lookups by name and the MPI-4 event interface of a library with no
 * events: names of cvars and the category resolve to their indices, unknown
 * names are MPI_T_ERR_INVALID_NAME, there are no events or event sources, and
 * every event index, registration and instance is invalid. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

static int bad;
#define CHECK(cond, what)                                          \
    do {                                                           \
        if (!(cond)) {                                             \
            printf("FAIL: %s\n", what);                            \
            bad++;                                                 \
        }                                                          \
    } while (0)

int main(int argc, char **argv) {
    int provided, n, idx = -1, rank, size;
    CHECK(MPI_T_event_get_num(&n) == MPI_T_ERR_NOT_INITIALIZED, "event_get_num before init");
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_T_init_thread(MPI_THREAD_SINGLE, &provided);
    MPI_T_cvar_get_num(&n);
    for (int i = 0; i < n; i++) {
        char name[256];
        int len = sizeof name, verb, bind, scope;
        MPI_Datatype dt;
        MPI_T_enum en;
        MPI_T_cvar_get_info(i, name, &len, &verb, &dt, &en, NULL, NULL, &bind, &scope);
        CHECK(MPI_T_cvar_get_index(name, &idx) == MPI_SUCCESS && idx == i, "cvar_get_index of each name");
    }
    CHECK(MPI_T_cvar_get_index("NO_SUCH_VARIABLE", &idx) == MPI_T_ERR_INVALID_NAME, "unknown cvar name");
    CHECK(MPI_T_pvar_get_index("anything", MPI_T_PVAR_CLASS_COUNTER, &idx) == MPI_T_ERR_INVALID_NAME,
          "pvar_get_index: no pvars");
    CHECK(MPI_T_category_get_index("vmpi", &idx) == MPI_SUCCESS && idx == 0, "category vmpi is 0");
    CHECK(MPI_T_category_get_index("other", &idx) == MPI_T_ERR_INVALID_NAME, "unknown category");
    CHECK(MPI_T_category_get_num_events(0, &n) == MPI_SUCCESS && n == 0, "category holds no events");
    CHECK(MPI_T_category_get_events(0, 0, NULL) == MPI_SUCCESS, "category_get_events");
    CHECK(MPI_T_category_get_num_events(7, &n) == MPI_T_ERR_INVALID_INDEX, "bad category");
    CHECK(MPI_T_event_get_num(&n) == MPI_SUCCESS && n == 0, "no events");
    CHECK(MPI_T_event_get_index("x", &idx) == MPI_T_ERR_INVALID_NAME, "event_get_index");
    MPI_T_event_registration reg;
    CHECK(MPI_T_event_handle_alloc(0, NULL, MPI_INFO_NULL, &reg) == MPI_T_ERR_INVALID_INDEX,
          "event_handle_alloc");
    MPI_Count ts;
    CHECK(MPI_T_event_get_timestamp(NULL, &ts) == MPI_T_ERR_INVALID_HANDLE, "event instance");
    CHECK(MPI_T_event_handle_free(NULL, NULL, NULL) == MPI_T_ERR_INVALID_HANDLE, "event registration");
    CHECK(MPI_T_source_get_num(&n) == MPI_SUCCESS && n == 0, "no sources");
    CHECK(MPI_T_source_get_timestamp(0, &ts) == MPI_T_ERR_INVALID_INDEX, "source_get_timestamp");
    MPI_T_finalize();
    printf("rank %d of %d: %s\n", rank, size, bad ? "FAIL" : "PASS");
    MPI_Finalize();
    return bad;
}
