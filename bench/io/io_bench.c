/* MPI-IO bandwidth: collective write and read of a 3-D block-decomposed array
 * of doubles (MPI_File_write_all / read_all through a subarray view), and an
 * independent strided pattern (every rank's blocks interleaved with the others',
 * MPI_File_write_at / read_at through a vector view: data sieving territory).
 * Prints one line per (pattern, operation): the best of REPS runs in GB/s
 * (total bytes over the slowest rank's time).
 *   io_bench DIR [N (3-D edge, default 192)] [BLOCK bytes (strided, 256)] [MB per rank (strided, 16)] [REPS 3]
 * IO_BENCH_HINTS="cb_nodes=2,cb_buffer_size=4194304" sets hints at open.
 * Same source for vmpi, MPICH (ROMIO) and Open MPI (OMPIO). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size;
static MPI_Info hints = MPI_INFO_NULL;

static void read_hints(void) {
    const char *h = getenv("IO_BENCH_HINTS");
    if (!h || !*h) return;
    MPI_Info_create(&hints);
    char *copy = strdup(h), *save = NULL;
    for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) continue;
        *eq = 0;
        MPI_Info_set(hints, kv, eq + 1);
    }
    free(copy);
}

static double timed(MPI_File fh, int write, int all, void *buf, int count, MPI_Datatype t) {
    MPI_Status st;
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    if (write) {
        if (all) MPI_File_write_at_all(fh, 0, buf, count, t, &st);
        else MPI_File_write_at(fh, 0, buf, count, t, &st);
    } else {
        if (all) MPI_File_read_at_all(fh, 0, buf, count, t, &st);
        else MPI_File_read_at(fh, 0, buf, count, t, &st);
    }
    double dt = MPI_Wtime() - t0, mx;
    MPI_Allreduce(&dt, &mx, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return mx;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    int n = argc > 2 ? atoi(argv[2]) : 192;
    int blk = argc > 3 ? atoi(argv[3]) : 256;
    long mb = argc > 4 ? atol(argv[4]) : 16;
    int reps = argc > 5 ? atoi(argv[5]) : 3;
    char path[4096];
    snprintf(path, sizeof path, "%s/io_bench.%d.dat", dir, size);
    read_hints();

    /* 3-D block decomposition */
    int dims[3] = {0, 0, 0}, coords[3], g[3] = {n, n, n}, l[3], s[3];
    MPI_Dims_create(size, 3, dims);
    int r = rank;
    for (int d = 2; d >= 0; d--) { coords[d] = r % dims[d]; r /= dims[d]; }
    long local = 1;
    for (int d = 0; d < 3; d++) {
        int q = n / dims[d], rem = n % dims[d];
        l[d] = q + (coords[d] < rem);
        s[d] = coords[d] * q + (coords[d] < rem ? coords[d] : rem);
        local *= l[d];
    }
    MPI_Datatype sub;
    MPI_Type_create_subarray(3, g, l, s, MPI_ORDER_C, MPI_DOUBLE, &sub);
    MPI_Type_commit(&sub);
    double *a = malloc(sizeof(double) * local);
    for (long i = 0; i < local; i++) a[i] = rank + i * 1e-9;
    double total = (double)n * n * n * 8;
    double best_w = 1e30, best_r = 1e30;
    MPI_File fh;
    for (int k = 0; k < reps; k++) {
        if (rank == 0) MPI_File_delete(path, MPI_INFO_NULL);
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_RDWR, hints, &fh);
        MPI_File_set_view(fh, 0, MPI_DOUBLE, sub, "native", MPI_INFO_NULL);
        double w = timed(fh, 1, 1, a, (int)local, MPI_DOUBLE);
        double rd = timed(fh, 0, 1, a, (int)local, MPI_DOUBLE);
        MPI_File_close(&fh);
        if (w < best_w) best_w = w;
        if (rd < best_r) best_r = rd;
    }
    if (rank == 0) {
        printf("coll3d write_all %d^3 doubles np %d: %.3f GB/s\n", n, size, total / best_w / 1e9);
        printf("coll3d read_all  %d^3 doubles np %d: %.3f GB/s\n", n, size, total / best_r / 1e9);
    }
    free(a);
    MPI_Type_free(&sub);

    /* strided independent: blocks of blk bytes, rank-interleaved */
    long nblk = mb * 1024 * 1024 / blk;
    MPI_Datatype v, ft;
    MPI_Type_vector(1, blk, blk * size, MPI_BYTE, &v);
    MPI_Type_create_resized(v, 0, (MPI_Aint)blk * size, &ft);
    MPI_Type_commit(&ft);
    char *b = malloc(nblk * blk);
    memset(b, rank + 1, nblk * blk);
    best_w = best_r = 1e30;
    for (int k = 0; k < reps; k++) {
        if (rank == 0) MPI_File_delete(path, MPI_INFO_NULL);
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_RDWR, hints, &fh);
        MPI_File_set_view(fh, (MPI_Offset)rank * blk, MPI_BYTE, ft, "native", MPI_INFO_NULL);
        double w = timed(fh, 1, 0, b, (int)(nblk * blk), MPI_BYTE);
        double rd = timed(fh, 0, 0, b, (int)(nblk * blk), MPI_BYTE);
        MPI_File_close(&fh);
        if (w < best_w) best_w = w;
        if (rd < best_r) best_r = rd;
    }
    total = (double)nblk * blk * size;
    if (rank == 0) {
        printf("strided write_at %dB blocks %ldMB/rank np %d: %.3f GB/s\n", blk, mb, size, total / best_w / 1e9);
        printf("strided read_at  %dB blocks %ldMB/rank np %d: %.3f GB/s\n", blk, mb, size, total / best_r / 1e9);
    }
    if (rank == 0) MPI_File_delete(path, MPI_INFO_NULL);
    free(b);
    MPI_Type_free(&ft);
    MPI_Type_free(&v);
    MPI_Finalize();
    return 0;
}
