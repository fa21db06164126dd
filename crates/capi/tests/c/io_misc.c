/* MPI-IO odds and ends: MPI_MODE_APPEND, MPI_MODE_SEQUENTIAL with the shared
 * pointer and MPI_DISPLACEMENT_CURRENT, reads that reach the end of the file
 * (counts and pointer), hints given at open and by MPI_File_set_info,
 * MPI_File_get_byte_offset with a displacement, MPI_File_delete of an open
 * file's name. argv[1]: the directory. Every rank prints "rank R of N: PASS". */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size, fails;
#define CHECK(c, ...) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: ", rank, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)
#define OK(call) do { int rc_ = (call); if (rc_ != MPI_SUCCESS) { printf("rank %d: FAIL line %d: %s -> %d\n", rank, __LINE__, #call, rc_); fails++; } } while (0)

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char path[4096];
    snprintf(path, sizeof path, "%s/misc.dat", dir);
    MPI_File fh;
    MPI_Status st;
    MPI_Offset pos, sz;
    int cnt;

    /* 1. a file of 10 ints, then APPEND: both pointers start at the end */
    if (rank == 0) {
        MPI_File_delete(path, MPI_INFO_NULL);
        int ten[10];
        for (int i = 0; i < 10; i++) ten[i] = i;
        OK(MPI_File_open(MPI_COMM_SELF, path, MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &fh));
        OK(MPI_File_write(fh, ten, 10, MPI_INT, &st));
        OK(MPI_File_close(&fh));
    }
    MPI_Barrier(MPI_COMM_WORLD);
    OK(MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_RDWR | MPI_MODE_APPEND, MPI_INFO_NULL, &fh));
    OK(MPI_File_get_position(fh, &pos));
    CHECK(pos == 40, "APPEND: individual pointer %lld", (long long)pos);
    OK(MPI_File_get_position_shared(fh, &pos));
    CHECK(pos == 40, "APPEND: shared pointer %lld", (long long)pos);
    MPI_Barrier(MPI_COMM_WORLD);
    int v = 100 + rank;
    OK(MPI_File_write_ordered(fh, &v, 1, MPI_INT, &st));
    OK(MPI_File_sync(fh));
    MPI_Barrier(MPI_COMM_WORLD);
    OK(MPI_File_sync(fh));
    OK(MPI_File_get_size(fh, &sz));
    CHECK(sz == 40 + 4 * size, "size after ordered append %lld", (long long)sz);
    /* 2. reads reaching the end of the file: counts and the pointer */
    int buf[64];
    OK(MPI_File_set_view(fh, 0, MPI_INT, MPI_INT, "native", MPI_INFO_NULL));
    OK(MPI_File_seek(fh, 8 + size, MPI_SEEK_SET));  /* 2 ints before the end */
    OK(MPI_File_read(fh, buf, 5, MPI_INT, &st));
    MPI_Get_count(&st, MPI_INT, &cnt);
    CHECK(cnt == 2, "read at the end: count %d", cnt);
    OK(MPI_File_get_position(fh, &pos));
    CHECK(pos == 10 + size, "pointer after a short read %lld", (long long)pos);
    /* (ROMIO's two-phase read reports the count asked for past the end: 5) */
    OK(MPI_File_read_at_all(fh, 10 + size, buf, 5, MPI_INT, &st));
    MPI_Get_count(&st, MPI_INT, &cnt);
    CHECK(cnt == 0, "read_at_all past the end: count %d", cnt);
    OK(MPI_File_read_at_all(fh, 9, buf, 3, MPI_INT, &st));
    MPI_Get_count(&st, MPI_INT, &cnt);
    CHECK(cnt == (size >= 2 ? 3 : 2), "read_at_all across the end: count %d", cnt);
    int el;
    MPI_Get_elements(&st, MPI_INT, &el);
    CHECK(el == cnt, "elements %d", el);
    /* 3. byte offsets with a displacement and a strided view */
    MPI_Datatype vec, ft;
    MPI_Type_vector(2, 1, 3, MPI_INT, &vec);
    MPI_Type_create_resized(vec, 0, 24, &ft);
    MPI_Type_commit(&ft);
    OK(MPI_File_set_view(fh, 4, MPI_INT, ft, "native", MPI_INFO_NULL));
    MPI_Offset b;
    OK(MPI_File_get_byte_offset(fh, 0, &b)); CHECK(b == 4, "byte offset 0 -> %lld", (long long)b);
    OK(MPI_File_get_byte_offset(fh, 1, &b)); CHECK(b == 16, "byte offset 1 -> %lld", (long long)b);
    OK(MPI_File_get_byte_offset(fh, 2, &b)); CHECK(b == 28, "byte offset 2 -> %lld", (long long)b);
    OK(MPI_File_get_position_shared(fh, &pos));
    CHECK(pos == 0, "set_view resets the shared pointer: %lld", (long long)pos);
    OK(MPI_File_read_at(fh, 0, buf, 3, MPI_INT, &st));
    CHECK(buf[0] == 1 && buf[1] == 4 && buf[2] == 7, "strided read: %d %d %d", buf[0], buf[1], buf[2]);
    MPI_Type_free(&ft);
    MPI_Type_free(&vec);
    /* 4. hints: given at set_info, reported by get_info */
    MPI_Info in, out;
    MPI_Info_create(&in);
    MPI_Info_set(in, "cb_buffer_size", "1048576");
    MPI_Info_set(in, "striping_unit", "65536");
    MPI_Info_set(in, "striping_factor", "4");
    OK(MPI_File_set_info(fh, in));
    MPI_Info_free(&in);
    OK(MPI_File_get_info(fh, &out));
    char val[MPI_MAX_INFO_VAL + 1];
    int flag;
    MPI_Info_get(out, "cb_buffer_size", MPI_MAX_INFO_VAL, val, &flag);
    CHECK(flag && strcmp(val, "1048576") == 0, "cb_buffer_size after set_info: %s", flag ? val : "(none)");
    MPI_Info_free(&out);
    OK(MPI_File_close(&fh));

    /* 5. SEQUENTIAL: shared pointer only; explicit offsets refused;
       MPI_DISPLACEMENT_CURRENT takes the shared pointer's place */
    OK(MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_WRONLY | MPI_MODE_SEQUENTIAL, MPI_INFO_NULL, &fh));
    int w = 7;
    int rc = MPI_File_write_at(fh, 0, &w, 1, MPI_INT, &st), cls;
    MPI_Error_class(rc, &cls);
    CHECK(rc != MPI_SUCCESS, "write_at on a SEQUENTIAL file succeeded");
    OK(MPI_File_write_ordered(fh, &w, 1, MPI_INT, &st));
    OK(MPI_File_set_view(fh, MPI_DISPLACEMENT_CURRENT, MPI_INT, MPI_INT, "native", MPI_INFO_NULL));
    MPI_Offset disp;
    MPI_Datatype et, ft2;
    char rep[MPI_MAX_DATAREP_STRING];
    OK(MPI_File_get_view(fh, &disp, &et, &ft2, rep));
    CHECK(disp == 4 * size, "DISPLACEMENT_CURRENT -> %lld", (long long)disp);
    OK(MPI_File_close(&fh));
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) OK(MPI_File_delete(path, MPI_INFO_NULL));
    /* 6. many opens and closes: each file's communicator gives its context
       ids back (vmpi ran out after 2046 before) */
    for (int i = 0; i < 2100; i++) {
        int rc2 = MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_RDWR | MPI_MODE_DELETE_ON_CLOSE, MPI_INFO_NULL, &fh);
        if (rc2 != MPI_SUCCESS) { CHECK(0, "open number %d failed: %d", i, rc2); break; }
        OK(MPI_File_close(&fh));
    }
    int all;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (all == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return all != 0;
}
