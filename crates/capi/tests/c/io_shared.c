/* Shared file pointers under contention, ordered accesses, atomic mode with
 * overlapping writes. argv[1]: the directory. Every rank prints
 * "rank R of N: PASS". */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size, fails;
#define CHECK(c, ...) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: ", rank, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)
#define OK(call) do { int rc_ = (call); if (rc_ != MPI_SUCCESS) { char s_[MPI_MAX_ERROR_STRING]; int l_; MPI_Error_string(rc_, s_, &l_); printf("rank %d: FAIL line %d: %s -> %d %s\n", rank, __LINE__, #call, rc_, s_); fails++; } } while (0)

#define K 200   /* records per rank */
#define RW 4    /* ints per record: rank, seq, ~rank, ~seq */

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char path[4096];
    snprintf(path, sizeof path, "%s/shared.dat", dir);
    MPI_File fh;
    MPI_Status st;

    /* 1. write_shared from every rank at once: every record once, none torn */
    if (rank == 0) MPI_File_delete(path, MPI_INFO_NULL);
    MPI_Barrier(MPI_COMM_WORLD);
    OK(MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_RDWR | MPI_MODE_DELETE_ON_CLOSE, MPI_INFO_NULL, &fh));
    for (int i = 0; i < K; i++) {
        int rec[RW] = {rank, i, ~rank, ~i};
        if (i % 2) OK(MPI_File_write_shared(fh, rec, RW, MPI_INT, &st));
        else {
            MPI_Request rq;
            OK(MPI_File_iwrite_shared(fh, rec, RW, MPI_INT, &rq));
            OK(MPI_Wait(&rq, &st));
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Offset pos, sz;
    OK(MPI_File_get_position_shared(fh, &pos));
    CHECK(pos == (MPI_Offset)K * RW * 4 * size, "shared position %lld", (long long)pos);
    OK(MPI_File_get_size(fh, &sz));
    CHECK(sz == (MPI_Offset)K * RW * 4 * size, "size %lld", (long long)sz);
    if (rank == 0) {
        int n = K * size;
        int *all = malloc(sizeof(int) * RW * n), *seen = calloc(n, sizeof(int));
        OK(MPI_File_read_at(fh, 0, all, RW * n, MPI_INT, &st));
        int bad = 0;
        for (int k = 0; k < n; k++) {
            int *r = all + RW * k;
            if (r[0] < 0 || r[0] >= size || r[1] < 0 || r[1] >= K || r[2] != ~r[0] || r[3] != ~r[1]) { bad++; continue; }
            seen[r[0] * K + r[1]]++;
        }
        for (int k = 0; k < n; k++) bad += seen[k] != 1;
        CHECK(bad == 0, "write_shared: %d records torn, lost or doubled", bad);
        free(all);
        free(seen);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    /* read_shared: together the ranks read every record once */
    OK(MPI_File_seek_shared(fh, 0, MPI_SEEK_SET));
    int got = 0, cnt, rec[RW], badr = 0;
    for (int i = 0; i < K; i++) {
        OK(MPI_File_read_shared(fh, rec, RW, MPI_INT, &st));
        MPI_Get_count(&st, MPI_INT, &cnt);
        if (cnt == RW) { got++; badr += rec[2] != ~rec[0] || rec[3] != ~rec[1]; }
    }
    int total;
    MPI_Allreduce(&got, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    CHECK(total == K * size && badr == 0, "read_shared: %d records (%d torn)", total, badr);
    /* at the end: a read gets 0 bytes */
    OK(MPI_File_read_shared(fh, rec, RW, MPI_INT, &st));
    MPI_Get_count(&st, MPI_INT, &cnt);
    CHECK(cnt == 0, "read_shared at EOF: count %d", cnt);
    OK(MPI_File_close(&fh));

    /* 2. ordered: the ranks' blocks in rank order, sizes differing */
    if (rank == 0) MPI_File_delete(path, MPI_INFO_NULL);
    MPI_Barrier(MPI_COMM_WORLD);
    OK(MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL, &fh));
    int tot = size * (size + 1) / 2;
    int mine = rank + 1, *buf = malloc(sizeof(int) * (size + 1) * 2);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < mine; i++) buf[i] = round * 1000 + rank * 10 + i;
        if (round == 0) {
            OK(MPI_File_write_ordered(fh, buf, mine, MPI_INT, &st));
            /* (no check of the shared position here: ROMIO's ranks disagree on it
               right after MPI_File_write_ordered, even after a barrier) */
        } else {
            OK(MPI_File_write_ordered_begin(fh, buf, mine, MPI_INT));
            OK(MPI_File_write_ordered_end(fh, buf, &st));
        }
    }
    OK(MPI_File_seek_shared(fh, 0, MPI_SEEK_SET));
    for (int round = 0; round < 2; round++) {
        memset(buf, 0, sizeof(int) * mine);
        OK(MPI_File_read_ordered(fh, buf, mine, MPI_INT, &st));
        for (int i = 0; i < mine; i++) CHECK(buf[i] == round * 1000 + rank * 10 + i, "read_ordered round %d: [%d] = %d", round, i, buf[i]);
    }
    if (rank == 0) {
        int *all = malloc(sizeof(int) * 2 * tot), k = 0, bad = 0;
        OK(MPI_File_read_at(fh, 0, all, 2 * tot, MPI_INT, &st));
        for (int round = 0; round < 2; round++)
            for (int r = 0; r < size; r++)
                for (int i = 0; i <= r; i++) bad += all[k++] != round * 1000 + r * 10 + i;
        CHECK(bad == 0, "write_ordered: %d ints out of order", bad);
        free(all);
    }
    OK(MPI_File_seek_shared(fh, 0, MPI_SEEK_END));
    OK(MPI_File_get_position_shared(fh, &pos));
    CHECK(pos == 2 * tot * 4, "SEEK_END shared: %lld", (long long)pos);
    OK(MPI_File_close(&fh));
    free(buf);

    /* 3. atomic mode: overlapping strided writes of whole blocks; the file shows
     * one writer per access, never a mix */
    if (rank == 0) MPI_File_delete(path, MPI_INFO_NULL);
    MPI_Barrier(MPI_COMM_WORLD);
    OK(MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_RDWR | MPI_MODE_DELETE_ON_CLOSE, MPI_INFO_NULL, &fh));
    int flag = -1;
    OK(MPI_File_get_atomicity(fh, &flag));
    CHECK(flag == 0, "atomicity starts %d", flag);
    OK(MPI_File_set_atomicity(fh, 1));
    OK(MPI_File_get_atomicity(fh, &flag));
    CHECK(flag == 1, "atomicity now %d", flag);
    MPI_Datatype vec0, vec;
    /* a strided view: data sieving would read-modify-write the gaps */
    MPI_Type_vector(256, 2, 3, MPI_INT, &vec0);
    MPI_Type_create_resized(vec0, 0, 768 * 4, &vec);
    MPI_Type_commit(&vec);
    OK(MPI_File_set_view(fh, 0, MPI_INT, vec, "native", MPI_INFO_NULL));
    int *blk = malloc(sizeof(int) * 768);
    for (int it = 0; it < 20; it++) {
        for (int i = 0; i < 768; i++) blk[i] = rank * 100 + it;
        OK(MPI_File_write_at(fh, 0, blk, 512, MPI_INT, &st));
        OK(MPI_File_write_at_all(fh, 512, blk, 512, MPI_INT, &st));
    }
    OK(MPI_File_sync(fh));
    MPI_Barrier(MPI_COMM_WORLD);
    OK(MPI_File_sync(fh));
    int *back = malloc(sizeof(int) * 768 * 2);
    OK(MPI_File_set_view(fh, 0, MPI_INT, MPI_INT, "native", MPI_INFO_NULL));
    OK(MPI_File_read_at(fh, 0, back, 768 * 2, MPI_INT, &st));
    for (int part = 0; part < 2; part++) {
        int first = -1, mixed = 0;
        for (int i = 0; i < 768; i++) {
            if (i % 3 == 2) continue;
            int v = back[part * 768 + i];
            if (first < 0) first = v;
            mixed += v != first;
        }
        CHECK(mixed == 0 && first % 100 == 19, "atomic part %d: %d ints differ from %d", part, mixed, first);
    }
    OK(MPI_File_close(&fh));
    MPI_Type_free(&vec);
    MPI_Type_free(&vec0);
    free(blk);
    free(back);

    int all;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (all == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return all != 0;
}
