/* MPI-IO errors: the classes of failed opens and accesses, the error
 * handlers of files (MPI_ERRORS_RETURN by default; MPI_FILE_NULL's handler
 * hears open errors). argv[1]: a writable directory. Prints one line per
 * check ("rank R: <what> -> <class>") so the run can be compared with MPICH's,
 * then "rank R of N: PASS". */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static int rank, size, fails, calls;
#define CHECK(c, ...) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: ", rank, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static void expect(const char *what, int rc, int want) {
    int cls;
    MPI_Error_class(rc, &cls);
    if (rank == 0) printf("rank %d: %s -> %d\n", rank, what, cls);
    CHECK(cls == want, "%s: class %d, want %d", what, cls, want);
}

static void on_file_error(MPI_File *fh, int *code, ...) { (void)fh; (void)code; calls++; }

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char path[4096], missing[4096], nodir[4096];
    snprintf(path, sizeof path, "%s/errors.dat", dir);
    snprintf(missing, sizeof missing, "%s/no-such-file.dat", dir);
    snprintf(nodir, sizeof nodir, "%s/no-such-dir/x.dat", dir);
    MPI_File fh = MPI_FILE_NULL;
    if (argc > 2 && strcmp(argv[2], "fatal") == 0) {
        /* the job ends with a message naming the call, the file and the errno */
        MPI_File_set_errhandler(MPI_FILE_NULL, MPI_ERRORS_ARE_FATAL);
        MPI_File_open(MPI_COMM_WORLD, missing, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
        printf("rank %d: still running\n", rank);
        MPI_Finalize();
        return 0;
    }
    if (argc > 2 && strcmp(argv[2], "full") == 0) {
        /* the job ends with the class of a full device (its exit code) */
        MPI_File_open(MPI_COMM_WORLD, "/dev/full", MPI_MODE_WRONLY, MPI_INFO_NULL, &fh);
        MPI_File_set_errhandler(fh, MPI_ERRORS_ARE_FATAL);
        int z[256] = {0};
        MPI_File_write_at(fh, 0, z, 256, MPI_INT, MPI_STATUS_IGNORE);
        printf("rank %d: still running\n", rank);
        MPI_Finalize();
        return 0;
    }
    MPI_Errhandler eh;
    MPI_File_get_errhandler(MPI_FILE_NULL, &eh);
    CHECK(eh == MPI_ERRORS_RETURN, "the default file error handler is not MPI_ERRORS_RETURN");

    expect("open missing without CREATE", MPI_File_open(MPI_COMM_WORLD, missing, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh), MPI_ERR_NO_SUCH_FILE);
    CHECK(fh == MPI_FILE_NULL, "fh set after a failed open");
    expect("open in a missing directory", MPI_File_open(MPI_COMM_WORLD, nodir, MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &fh), MPI_ERR_NO_SUCH_FILE);
    expect("amode RDONLY|WRONLY", MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_RDONLY | MPI_MODE_WRONLY, MPI_INFO_NULL, &fh), MPI_ERR_AMODE);
    expect("amode RDONLY|CREATE", MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_RDONLY | MPI_MODE_CREATE, MPI_INFO_NULL, &fh), MPI_ERR_AMODE);
    expect("amode without access mode", MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE, MPI_INFO_NULL, &fh), MPI_ERR_AMODE);
    expect("amode RDWR|SEQUENTIAL", MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_RDWR | MPI_MODE_SEQUENTIAL | MPI_MODE_CREATE, MPI_INFO_NULL, &fh), MPI_ERR_AMODE);
    /* Permission denied: as root a mode-000 directory does not deny anything, but
       a sysfs attribute without a write method does (for root and others). */
    expect("open /sys/kernel/notes for writing", MPI_File_open(MPI_COMM_WORLD, "/sys/kernel/notes", MPI_MODE_WRONLY, MPI_INFO_NULL, &fh), MPI_ERR_ACCESS);
    if (geteuid() != 0) {
        char locked[4096], inside[4200];
        snprintf(locked, sizeof locked, "%s/locked", dir);
        snprintf(inside, sizeof inside, "%s/x.dat", locked);
        if (rank == 0) mkdir(locked, 0);
        MPI_Barrier(MPI_COMM_WORLD);
        int rc = MPI_File_open(MPI_COMM_WORLD, inside, MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &fh), cls;
        MPI_Error_class(rc, &cls);
        CHECK(cls == MPI_ERR_ACCESS, "create in a mode-000 directory: class %d", cls);
        MPI_Barrier(MPI_COMM_WORLD);
        if (rank == 0) rmdir(locked);
    }

    /* a full device: ENOSPC */
    expect("open /dev/full", MPI_File_open(MPI_COMM_WORLD, "/dev/full", MPI_MODE_WRONLY, MPI_INFO_NULL, &fh), MPI_SUCCESS);
    {
        int z[256] = {0};
        MPI_Status s2;
        /* vmpi: MPI_ERR_NO_SPACE; ROMIO: MPI_ERR_IO (not printed: they differ) */
        int c2;
        MPI_Error_class(MPI_File_write_at(fh, 0, z, 256, MPI_INT, &s2), &c2);
        CHECK(c2 == MPI_ERR_NO_SPACE || c2 == MPI_ERR_IO, "write to /dev/full: class %d", c2);
        MPI_File_close(&fh);
    }
    /* a directory */
    expect("open a directory for writing", MPI_File_open(MPI_COMM_WORLD, dir, MPI_MODE_WRONLY, MPI_INFO_NULL, &fh), MPI_ERR_BAD_FILE);

    /* MPI_FILE_NULL's handler hears open errors */
    MPI_Errhandler mine;
    MPI_File_create_errhandler(on_file_error, &mine);
    MPI_File_set_errhandler(MPI_FILE_NULL, mine);
    int rc = MPI_File_open(MPI_COMM_WORLD, missing, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
    CHECK(rc != MPI_SUCCESS && calls == 1, "the MPI_FILE_NULL handler ran %d times", calls);
    MPI_File_set_errhandler(MPI_FILE_NULL, MPI_ERRORS_RETURN);

    /* EXCL on an existing file */
    if (rank == 0) MPI_File_delete(path, MPI_INFO_NULL);
    MPI_Barrier(MPI_COMM_WORLD);
    expect("create", MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_EXCL | MPI_MODE_RDWR, MPI_INFO_NULL, &fh), MPI_SUCCESS);
    MPI_File_get_errhandler(fh, &eh);
    CHECK(eh == MPI_ERRORS_RETURN, "a new file's handler is not MPI_ERRORS_RETURN");
    int amode;
    MPI_File_get_amode(fh, &amode);
    CHECK(amode == (MPI_MODE_CREATE | MPI_MODE_EXCL | MPI_MODE_RDWR), "amode %d", amode);
    int v[4] = {1, 2, 3, 4};
    MPI_Status st;
    expect("write", MPI_File_write_at(fh, rank * 16, v, 4, MPI_INT, &st), MPI_SUCCESS);
    expect("datarep no-such-rep", MPI_File_set_view(fh, 0, MPI_INT, MPI_INT, "no-such-rep", MPI_INFO_NULL), MPI_ERR_UNSUPPORTED_DATAREP);
    /* vmpi has "native" only; MPICH has external32 too */
    int cls32;
    MPI_Error_class(MPI_File_set_view(fh, 0, MPI_BYTE, MPI_BYTE, "external32", MPI_INFO_NULL), &cls32);
    CHECK(cls32 == MPI_SUCCESS || cls32 == MPI_ERR_UNSUPPORTED_DATAREP, "external32: class %d", cls32);
    MPI_File_set_view(fh, 0, MPI_BYTE, MPI_BYTE, "native", MPI_INFO_NULL);
    expect("negative offset", MPI_File_read_at(fh, -4, v, 1, MPI_INT, &st), MPI_ERR_ARG);
    /* a user handler on the file */
    calls = 0;
    MPI_File_set_errhandler(fh, mine);
    MPI_File_call_errhandler(fh, MPI_ERR_OTHER);
    CHECK(calls == 1, "MPI_File_call_errhandler: handler ran %d times", calls);
    MPI_File_set_errhandler(fh, MPI_ERRORS_RETURN);
    /* hints */
    MPI_Info info;
    MPI_File_get_info(fh, &info);
    int flag;
    char val[MPI_MAX_INFO_VAL + 1];
    MPI_Info_get(info, "cb_buffer_size", MPI_MAX_INFO_VAL, val, &flag);
    CHECK(flag && atoi(val) > 0, "cb_buffer_size hint missing");
    MPI_Info_get(info, "cb_nodes", MPI_MAX_INFO_VAL, val, &flag);
    CHECK(flag && atoi(val) > 0, "cb_nodes hint missing");
    MPI_Info_free(&info);
    MPI_Group g;
    MPI_File_get_group(fh, &g);
    int gs;
    MPI_Group_size(g, &gs);
    CHECK(gs == size, "group size %d", gs);
    MPI_Group_free(&g);
    MPI_Fint f = MPI_File_c2f(fh);
    CHECK(MPI_File_f2c(f) == fh, "c2f/f2c round trip");
    MPI_File_sync(fh);
    expect("set_size", MPI_File_set_size(fh, 8), MPI_SUCCESS);
    MPI_Offset sz;
    MPI_File_get_size(fh, &sz);
    CHECK(sz == 8, "size after set_size %lld", (long long)sz);
    MPI_Barrier(MPI_COMM_WORLD);
    expect("preallocate", MPI_File_preallocate(fh, 4096), MPI_SUCCESS);
    MPI_File_get_size(fh, &sz);
    CHECK(sz == 4096, "size after preallocate %lld", (long long)sz);
    expect("close", MPI_File_close(&fh), MPI_SUCCESS);
    CHECK(fh == MPI_FILE_NULL, "close did not null the handle");
    expect("create EXCL of an existing file", MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_EXCL | MPI_MODE_WRONLY, MPI_INFO_NULL, &fh), MPI_ERR_FILE_EXISTS);

    /* read-only and write-only files */
    expect("open RDONLY", MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh), MPI_SUCCESS);
    expect("write to a RDONLY file", MPI_File_write_at(fh, 0, v, 1, MPI_INT, &st), MPI_ERR_READ_ONLY);
    MPI_File_close(&fh);
    expect("open WRONLY", MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_WRONLY, MPI_INFO_NULL, &fh), MPI_SUCCESS);
    expect("read from a WRONLY file", MPI_File_read_at(fh, 0, v, 1, MPI_INT, &st), MPI_ERR_ACCESS);
    MPI_File_close(&fh);
    expect("register datarep", MPI_Register_datarep("mine", MPI_CONVERSION_FN_NULL, MPI_CONVERSION_FN_NULL, NULL, NULL) == MPI_SUCCESS ? MPI_SUCCESS : MPI_ERR_UNSUPPORTED_OPERATION, MPI_SUCCESS == 0 ? MPI_ERR_UNSUPPORTED_OPERATION : 0);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) expect("delete", MPI_File_delete(path, MPI_INFO_NULL), MPI_SUCCESS);
    if (rank == 0) expect("delete missing", MPI_File_delete(missing, MPI_INFO_NULL), MPI_ERR_NO_SUCH_FILE);
    MPI_Errhandler_free(&mine);

    int all;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (all == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return all != 0;
}
