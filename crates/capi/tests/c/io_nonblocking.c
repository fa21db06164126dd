/* Nonblocking and split collective MPI-IO: several collective requests
 * outstanding at once, user collectives between start and wait, and progress
 * without MPI calls (the requests complete while every rank sleeps).
 * argv[1]: the directory. Every rank prints "rank R of N: PASS". */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rank, size, fails;
#define CHECK(c, ...) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: ", rank, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)
#define OK(call) do { int rc_ = (call); if (rc_ != MPI_SUCCESS) { printf("rank %d: FAIL line %d: %s -> %d\n", rank, __LINE__, #call, rc_); fails++; } } while (0)

#define N 4096   /* ints per rank per block */
#define NBLK 3

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char path[4096];
    snprintf(path, sizeof path, "%s/nb.dat", argc > 1 ? argv[1] : "/tmp");
    MPI_File fh;
    MPI_Status st[NBLK];
    MPI_Request rq[NBLK];
    if (rank == 0) MPI_File_delete(path, MPI_INFO_NULL);
    MPI_Barrier(MPI_COMM_WORLD);
    OK(MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_RDWR | MPI_MODE_DELETE_ON_CLOSE, MPI_INFO_NULL, &fh));
    /* view: ints interleaved by rank, 16 at a time */
    MPI_Datatype v0, ft;
    MPI_Type_vector(N / 16, 16, 16 * size, MPI_INT, &v0);
    MPI_Type_create_resized(v0, 0, (MPI_Aint)N * size * 4, &ft);
    MPI_Type_commit(&ft);
    OK(MPI_File_set_view(fh, rank * 16 * 4, MPI_INT, ft, "native", MPI_INFO_NULL));
    int *w = malloc(sizeof(int) * N * NBLK), *r = malloc(sizeof(int) * N * NBLK);
    for (int i = 0; i < N * NBLK; i++) w[i] = rank * 10000000 + i;
    /* 1. three collective writes outstanding, a user allreduce in between */
    for (int b = 0; b < NBLK; b++) OK(MPI_File_iwrite_at_all(fh, (MPI_Offset)b * N, w + b * N, N, MPI_INT, &rq[b]));
    int one = 1, sum = 0;
    MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    CHECK(sum == size, "allreduce between: %d", sum);
    OK(MPI_Waitall(NBLK, rq, st));
    for (int b = 0; b < NBLK; b++) {
        int c;
        MPI_Get_count(&st[b], MPI_INT, &c);
        CHECK(c == N, "iwrite_at_all %d count %d", b, c);
    }
    /* 2. collective reads complete while every rank sleeps (no MPI calls) */
    memset(r, 0, sizeof(int) * N * NBLK);
    for (int b = 0; b < NBLK; b++) OK(MPI_File_iread_at_all(fh, (MPI_Offset)b * N, r + b * N, N, MPI_INT, &rq[b]));
    /* vmpi's I/O thread moves the data with no MPI call on any rank (ROMIO
       would wait for the next call): look at the buffer, up to 10 s */
    int arrived = 0;
    for (int t = 0; t < 100 && !arrived; t++) {
        usleep(100000);
        arrived = memcmp(r, w, sizeof(int) * N * NBLK) == 0;
    }
    CHECK(arrived, "the collective reads made no progress without MPI calls");
    OK(MPI_Waitall(NBLK, rq, st));
    CHECK(memcmp(r, w, sizeof(int) * N * NBLK) == 0, "iread_at_all data differ");
    /* 3. split collective with a user collective in between; then a blocking
       collective right after the end */
    memset(r, 0, sizeof(int) * N);
    OK(MPI_File_seek(fh, N, MPI_SEEK_SET));
    OK(MPI_File_read_all_begin(fh, r, N, MPI_INT));
    MPI_Barrier(MPI_COMM_WORLD);
    OK(MPI_File_read_all_end(fh, r, &st[0]));
    CHECK(memcmp(r, w + N, sizeof(int) * N) == 0, "read_all_begin/end data differ");
    MPI_Offset pos;
    OK(MPI_File_get_position(fh, &pos));
    CHECK(pos == 2 * N, "position after split read %lld", (long long)pos);
    /* 4. independent nonblocking: many outstanding, completed by sleeping */
    MPI_Request ir[8];
    int *ib = malloc(sizeof(int) * 8 * 16);
    for (int k = 0; k < 8; k++) OK(MPI_File_iread_at(fh, (MPI_Offset)k * 16, ib + 16 * k, 16, MPI_INT, &ir[k]));
    usleep(200000);
    OK(MPI_Waitall(8, ir, MPI_STATUSES_IGNORE));
    CHECK(memcmp(ib, w, sizeof(int) * 8 * 16) == 0, "iread_at data differ");
    /* 5. a nonblocking collective still pending when a blocking one starts */
    OK(MPI_File_iwrite_at_all(fh, 0, w, N, MPI_INT, &rq[0]));
    OK(MPI_File_read_at_all(fh, N, r, N, MPI_INT, &st[1]));
    OK(MPI_Wait(&rq[0], &st[0]));
    CHECK(memcmp(r, w + N, sizeof(int) * N) == 0, "read_at_all after a pending iwrite_at_all differs");
    /* 6. an independent access completes while a collective one waits for a
       rank that first waits for us */
    if (size >= 2) {
        int tok = 0;
        if (rank == 0) {
            OK(MPI_File_iwrite_at_all(fh, 0, w, N, MPI_INT, &rq[0]));
            OK(MPI_File_iread_at(fh, 0, ib, 16, MPI_INT, &rq[1]));
            OK(MPI_Wait(&rq[1], &st[1]));
            MPI_Send(&tok, 1, MPI_INT, 1, 5, MPI_COMM_WORLD);
        } else {
            if (rank == 1) MPI_Recv(&tok, 1, MPI_INT, 0, 5, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            OK(MPI_File_iwrite_at_all(fh, 0, w, N, MPI_INT, &rq[0]));
        }
        OK(MPI_Wait(&rq[0], &st[0]));
    }
    OK(MPI_File_close(&fh));
    /* 7. two files, their collectives started in opposite orders by odd and
       even ranks (different communicators: MPI allows it) */
    char p2[4200];
    snprintf(p2, sizeof p2, "%s.second", path);
    MPI_File fx, fy;
    OK(MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_RDWR | MPI_MODE_DELETE_ON_CLOSE, MPI_INFO_NULL, &fx));
    OK(MPI_File_open(MPI_COMM_WORLD, p2, MPI_MODE_CREATE | MPI_MODE_RDWR | MPI_MODE_DELETE_ON_CLOSE, MPI_INFO_NULL, &fy));
    OK(MPI_File_set_view(fx, rank * 16 * 4, MPI_INT, ft, "native", MPI_INFO_NULL));
    OK(MPI_File_set_view(fy, rank * 16 * 4, MPI_INT, ft, "native", MPI_INFO_NULL));
    if (rank % 2 == 0) {
        OK(MPI_File_iwrite_at_all(fx, 0, w, N, MPI_INT, &rq[0]));
        OK(MPI_File_iwrite_at_all(fy, 0, w + N, N, MPI_INT, &rq[1]));
    } else {
        OK(MPI_File_iwrite_at_all(fy, 0, w + N, N, MPI_INT, &rq[1]));
        OK(MPI_File_iwrite_at_all(fx, 0, w, N, MPI_INT, &rq[0]));
    }
    OK(MPI_Waitall(2, rq, st));
    OK(MPI_File_read_at_all(fx, 0, r, N, MPI_INT, &st[0]));
    OK(MPI_File_read_at_all(fy, 0, r + N, N, MPI_INT, &st[1]));
    CHECK(memcmp(r, w, sizeof(int) * 2 * N) == 0, "two files: data differ");
    OK(MPI_File_close(&fx));
    OK(MPI_File_close(&fy));
    MPI_Type_free(&ft);
    MPI_Type_free(&v0);
    free(w); free(r); free(ib);
    int all;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (all == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return all != 0;
}
