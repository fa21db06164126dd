/* A request keeps its datatype alive (MPI-3.1 §4.1.9: freeing a datatype does not
 * affect operations that use it): persistent sends and receives of a derived
 * vector type freed right after MPI_Send_init / MPI_Recv_init, started and waited
 * several times; the same for the synchronous, buffered and ready persistent
 * sends; nonblocking send and receive, and a nonblocking collective, whose types
 * are freed before the wait. Data is checked every time. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

#define N 8      /* vector blocks */
#define STRIDE 3 /* ints from one block to the next */

static MPI_Datatype vec(void) {
    MPI_Datatype t;
    MPI_Type_vector(N, 1, STRIDE, MPI_INT, &t);
    MPI_Type_commit(&t);
    return t;
}

static void fill(int *b, int who, int iter) {
    for (int i = 0; i < N * STRIDE; i++) b[i] = (i % STRIDE == 0) ? who * 1000 + iter * 10 + i / STRIDE : -1;
}

static int ok(const int *b, int who, int iter) {
    for (int i = 0; i < N * STRIDE; i++) {
        int want = (i % STRIDE == 0) ? who * 1000 + iter * 10 + i / STRIDE : -7;
        if (b[i] != want) return 0;
    }
    return 1;
}

static void clear(int *b) { for (int i = 0; i < N * STRIDE; i++) b[i] = -7; }

int main(int argc, char **argv) {
    int size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int to = (rank + 1) % size, from = (rank + size - 1) % size;
    int sb[N * STRIDE], rb[N * STRIDE];

    /* Every persistent send mode; the types are freed at once. */
    for (int mode = 0; mode < 4; mode++) {
        MPI_Datatype st = vec(), rt = vec();
        MPI_Request r[2];
        void *bbuf = NULL;
        int bsize = 0;
        if (mode == 2) {
            MPI_Pack_size(N, MPI_INT, MPI_COMM_WORLD, &bsize);
            bsize += MPI_BSEND_OVERHEAD;
            bbuf = malloc(bsize);
            MPI_Buffer_attach(bbuf, bsize);
        }
        CHECK(MPI_Recv_init(rb, 1, rt, from, 5 + mode, MPI_COMM_WORLD, &r[0]) == MPI_SUCCESS);
        int rc;
        switch (mode) {
        case 0: rc = MPI_Send_init(sb, 1, st, to, 5 + mode, MPI_COMM_WORLD, &r[1]); break;
        case 1: rc = MPI_Ssend_init(sb, 1, st, to, 5 + mode, MPI_COMM_WORLD, &r[1]); break;
        case 2: rc = MPI_Bsend_init(sb, 1, st, to, 5 + mode, MPI_COMM_WORLD, &r[1]); break;
        default: rc = MPI_Rsend_init(sb, 1, st, to, 5 + mode, MPI_COMM_WORLD, &r[1]); break;
        }
        CHECK(rc == MPI_SUCCESS);
        CHECK(MPI_Type_free(&st) == MPI_SUCCESS && st == MPI_DATATYPE_NULL);
        CHECK(MPI_Type_free(&rt) == MPI_SUCCESS && rt == MPI_DATATYPE_NULL);
        for (int it = 0; it < 4; it++) {
            fill(sb, rank, it);
            clear(rb);
            CHECK(MPI_Start(&r[0]) == MPI_SUCCESS);
            if (mode == 3) MPI_Barrier(MPI_COMM_WORLD); /* ready send: receive posted first */
            CHECK(MPI_Start(&r[1]) == MPI_SUCCESS);
            CHECK(MPI_Waitall(2, r, MPI_STATUSES_IGNORE) == MPI_SUCCESS);
            CHECK(ok(rb, from, it));
        }
        /* MPI_Startall too */
        fill(sb, rank, 9);
        clear(rb);
        if (mode == 3) {
            MPI_Start(&r[0]);
            MPI_Barrier(MPI_COMM_WORLD);
            MPI_Start(&r[1]);
        } else {
            CHECK(MPI_Startall(2, r) == MPI_SUCCESS);
        }
        MPI_Status s;
        CHECK(MPI_Wait(&r[0], &s) == MPI_SUCCESS);
        CHECK(MPI_Wait(&r[1], MPI_STATUS_IGNORE) == MPI_SUCCESS);
        CHECK(ok(rb, from, 9));
        int n = -1;
        MPI_Get_count(&s, MPI_INT, &n);
        CHECK(n == N);
        MPI_Request_free(&r[0]);
        MPI_Request_free(&r[1]);
        if (mode == 2) MPI_Buffer_detach(&bbuf, &bsize), free(bbuf);
    }

    /* Nonblocking: the types are freed before the wait. */
    {
        MPI_Datatype st = vec(), rt = vec();
        MPI_Request r[2];
        fill(sb, rank, 7);
        clear(rb);
        CHECK(MPI_Irecv(rb, 1, rt, from, 20, MPI_COMM_WORLD, &r[0]) == MPI_SUCCESS);
        CHECK(MPI_Isend(sb, 1, st, to, 20, MPI_COMM_WORLD, &r[1]) == MPI_SUCCESS);
        MPI_Type_free(&st);
        MPI_Type_free(&rt);
        CHECK(MPI_Waitall(2, r, MPI_STATUSES_IGNORE) == MPI_SUCCESS);
        CHECK(ok(rb, from, 7));
    }

    /* A nonblocking collective holding a derived type freed before the wait. */
    {
        MPI_Datatype t = vec();
        MPI_Request r;
        if (rank == 0) fill(rb, 0, 3); else clear(rb);
        CHECK(MPI_Ibcast(rb, 1, t, 0, MPI_COMM_WORLD, &r) == MPI_SUCCESS);
        MPI_Type_free(&t);
        CHECK(MPI_Wait(&r, MPI_STATUS_IGNORE) == MPI_SUCCESS);
        if (rank != 0) CHECK(ok(rb, 0, 3)); /* the root's gaps stay -1 */
    }
    {
        MPI_Datatype t = vec();
        int *all = malloc(sizeof(int) * N * STRIDE * size);
        for (int i = 0; i < N * STRIDE * size; i++) all[i] = -7;
        int mine[N];
        for (int i = 0; i < N; i++) mine[i] = rank * 1000 + 50 + i;
        MPI_Datatype rt;
        MPI_Type_vector(N, 1, size, MPI_INT, &rt);
        MPI_Datatype rtr;
        MPI_Type_create_resized(rt, 0, sizeof(int), &rtr);
        MPI_Type_commit(&rtr);
        MPI_Type_free(&rt);
        MPI_Request r;
        CHECK(MPI_Igather(mine, N, MPI_INT, all, 1, rtr, 0, MPI_COMM_WORLD, &r) == MPI_SUCCESS);
        MPI_Type_free(&rtr);
        MPI_Type_free(&t);
        CHECK(MPI_Wait(&r, MPI_STATUS_IGNORE) == MPI_SUCCESS);
        if (rank == 0)
            for (int i = 0; i < N; i++)
                for (int p = 0; p < size; p++) CHECK(all[i * size + p] == p * 1000 + 50 + i);
        free(all);
    }

    if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return fails != 0;
}
