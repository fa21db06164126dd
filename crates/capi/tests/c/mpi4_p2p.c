/* The MPI-4 large-count point-to-point forms (MPI_Count counts): every send mode
 * blocking, nonblocking and persistent, receives, sendrecv(_replace), matched
 * receives, the buffered-send buffer, MPI_Get_count_c / MPI_Get_elements_c (also on
 * a status of more than INT_MAX bytes, where the int forms say MPI_UNDEFINED), and a
 * negative count (MPI_ERR_COUNT). Messages go around a ring (rank+1), with a
 * strided datatype so that packing runs too. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

#define N 5
static MPI_Datatype vec;

static void fill(int *b, int v) { for (int i = 0; i < 2 * N; i++) b[i] = (i % 2 == 0) ? v * 100 + i : -1; }
static int ok(const int *b, int v) {
    for (int i = 0; i < 2 * N; i++)
        if (b[i] != ((i % 2 == 0) ? v * 100 + i : -7)) return 0;
    return 1;
}
static void clear(int *b) { for (int i = 0; i < 2 * N; i++) b[i] = -7; }

int main(int argc, char **argv) {
    int size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int right = (rank + 1) % size, left = (rank + size - 1) % size;
    MPI_Type_vector(N, 1, 2, MPI_INT, &vec);
    MPI_Type_commit(&vec);
    int sb[2 * N], rb[2 * N];
    MPI_Status st;
    MPI_Request rq[2];
    MPI_Count c;

    /* standard, synchronous and ready sends, the receive posted first */
    for (int mode = 0; mode < 3; mode++) {
        fill(sb, rank + mode); clear(rb);
        MPI_Irecv_c(rb, 1, vec, left, mode, MPI_COMM_WORLD, &rq[0]);
        MPI_Barrier(MPI_COMM_WORLD);
        if (mode == 0) MPI_Isend_c(sb, 1, vec, right, mode, MPI_COMM_WORLD, &rq[1]);
        if (mode == 1) MPI_Issend_c(sb, 1, vec, right, mode, MPI_COMM_WORLD, &rq[1]);
        if (mode == 2) MPI_Irsend_c(sb, 1, vec, right, mode, MPI_COMM_WORLD, &rq[1]);
        MPI_Waitall(2, rq, MPI_STATUSES_IGNORE);
        CHECK(ok(rb, left + mode));
    }
    /* blocking: every rank receives into an Irecv_c, then sends */
    for (int mode = 0; mode < 3; mode++) {
        fill(sb, rank + 10 + mode); clear(rb);
        MPI_Irecv_c(rb, 1, vec, left, 20 + mode, MPI_COMM_WORLD, &rq[0]);
        MPI_Barrier(MPI_COMM_WORLD);
        if (mode == 0) MPI_Send_c(sb, 1, vec, right, 20 + mode, MPI_COMM_WORLD);
        if (mode == 1) MPI_Ssend_c(sb, 1, vec, right, 20 + mode, MPI_COMM_WORLD);
        if (mode == 2) MPI_Rsend_c(sb, 1, vec, right, 20 + mode, MPI_COMM_WORLD);
        MPI_Wait(&rq[0], &st);
        CHECK(ok(rb, left + 10 + mode));
        MPI_Get_count_c(&st, vec, &c); CHECK(c == 1);
        MPI_Get_count_c(&st, MPI_INT, &c); CHECK(c == N);
        MPI_Get_elements_c(&st, vec, &c); CHECK(c == N);
    }
    /* MPI_Recv_c */
    fill(sb, rank + 30); clear(rb);
    MPI_Isend_c(sb, 1, vec, right, 30, MPI_COMM_WORLD, &rq[1]);
    MPI_Recv_c(rb, 1, vec, left, 30, MPI_COMM_WORLD, &st);
    MPI_Wait(&rq[1], MPI_STATUS_IGNORE);
    CHECK(ok(rb, left + 30));
    CHECK(st.MPI_SOURCE == left && st.MPI_TAG == 30);

    /* buffered: attach with the _c form, detach with the _c form */
    {
        int bsize;
        MPI_Pack_size(1, vec, MPI_COMM_WORLD, &bsize);
        MPI_Count total = 2 * (bsize + MPI_BSEND_OVERHEAD);
        char *buf = malloc(total);
        CHECK(MPI_Buffer_attach_c(buf, total) == MPI_SUCCESS);
        fill(sb, rank + 40); clear(rb);
        MPI_Bsend_c(sb, 1, vec, right, 40, MPI_COMM_WORLD);
        MPI_Recv_c(rb, 1, vec, left, 40, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        CHECK(ok(rb, left + 40));
        fill(sb, rank + 41); clear(rb);
        MPI_Ibsend_c(sb, 1, vec, right, 41, MPI_COMM_WORLD, &rq[1]);
        MPI_Recv_c(rb, 1, vec, left, 41, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Wait(&rq[1], MPI_STATUS_IGNORE);
        CHECK(ok(rb, left + 41));
        void *back; MPI_Count bs;
        CHECK(MPI_Buffer_detach_c(&back, &bs) == MPI_SUCCESS);
        CHECK(back == buf && bs == total);
        free(buf);
    }

    /* persistent, every mode, started twice */
    {
        int bsize;
        MPI_Pack_size(1, vec, MPI_COMM_WORLD, &bsize);
        char *buf = malloc(bsize + MPI_BSEND_OVERHEAD);
        MPI_Buffer_attach(buf, bsize + MPI_BSEND_OVERHEAD);
        for (int mode = 0; mode < 4; mode++) {
            MPI_Request p[2];
            MPI_Recv_init_c(rb, 1, vec, left, 50 + mode, MPI_COMM_WORLD, &p[0]);
            if (mode == 0) MPI_Send_init_c(sb, 1, vec, right, 50 + mode, MPI_COMM_WORLD, &p[1]);
            if (mode == 1) MPI_Ssend_init_c(sb, 1, vec, right, 50 + mode, MPI_COMM_WORLD, &p[1]);
            if (mode == 2) MPI_Rsend_init_c(sb, 1, vec, right, 50 + mode, MPI_COMM_WORLD, &p[1]);
            if (mode == 3) MPI_Bsend_init_c(sb, 1, vec, right, 50 + mode, MPI_COMM_WORLD, &p[1]);
            for (int it = 0; it < 2; it++) {
                fill(sb, rank + mode * 7 + it); clear(rb);
                MPI_Start(&p[0]);
                MPI_Barrier(MPI_COMM_WORLD);
                MPI_Start(&p[1]);
                MPI_Waitall(2, p, MPI_STATUSES_IGNORE);
                CHECK(ok(rb, left + mode * 7 + it));
            }
            MPI_Request_free(&p[0]);
            MPI_Request_free(&p[1]);
        }
        void *back; int bs;
        MPI_Buffer_detach(&back, &bs);
        free(buf);
    }

    /* sendrecv and sendrecv_replace */
    fill(sb, rank + 60); clear(rb);
    MPI_Sendrecv_c(sb, 1, vec, right, 60, rb, 1, vec, left, 60, MPI_COMM_WORLD, &st);
    CHECK(ok(rb, left + 60));
    MPI_Get_count_c(&st, MPI_INT, &c); CHECK(c == N);
    fill(rb, rank + 61);
    for (int i = 1; i < 2 * N; i += 2) rb[i] = -7;
    MPI_Sendrecv_replace_c(rb, 1, vec, right, 61, left, 61, MPI_COMM_WORLD, &st);
    CHECK(ok(rb, left + 61));

    /* matched probes */
    {
        MPI_Message m;
        fill(sb, rank + 70); clear(rb);
        MPI_Isend_c(sb, 1, vec, right, 70, MPI_COMM_WORLD, &rq[1]);
        MPI_Mprobe(left, 70, MPI_COMM_WORLD, &m, &st);
        MPI_Mrecv_c(rb, 1, vec, &m, &st);
        MPI_Wait(&rq[1], MPI_STATUS_IGNORE);
        CHECK(ok(rb, left + 70) && m == MPI_MESSAGE_NULL);
        fill(sb, rank + 71); clear(rb);
        MPI_Isend_c(sb, 1, vec, right, 71, MPI_COMM_WORLD, &rq[1]);
        int flag = 0;
        while (!flag) MPI_Improbe(left, 71, MPI_COMM_WORLD, &flag, &m, &st);
        MPI_Imrecv_c(rb, 1, vec, &m, &rq[0]);
        MPI_Waitall(2, rq, MPI_STATUSES_IGNORE);
        CHECK(ok(rb, left + 71));
        MPI_Mprobe(MPI_PROC_NULL, 0, MPI_COMM_WORLD, &m, &st);
        MPI_Mrecv_c(NULL, 0, MPI_INT, &m, &st);
        MPI_Get_count_c(&st, MPI_INT, &c); CHECK(c == 0 && st.MPI_SOURCE == MPI_PROC_NULL);
    }

    /* counts beyond int in a status */
    {
        MPI_Status big;
        MPI_Count want = 3000000000LL;
        int ic;
        MPI_Status_set_elements_x(&big, MPI_BYTE, want);
        MPI_Get_count_c(&big, MPI_BYTE, &c); CHECK(c == want);
        MPI_Get_elements_c(&big, MPI_BYTE, &c); CHECK(c == want);
        MPI_Get_count(&big, MPI_BYTE, &ic); CHECK(ic == MPI_UNDEFINED);
        MPI_Get_elements(&big, MPI_BYTE, &ic); CHECK(ic == MPI_UNDEFINED);
        MPI_Get_count_c(&big, MPI_SHORT, &c); CHECK(c == want / 2);
        MPI_Get_count_c(&big, MPI_INT, &c); CHECK(c == want / 4);
        MPI_Status_set_elements_x(&big, MPI_BYTE, want + 1);
        MPI_Get_count_c(&big, MPI_INT, &c); CHECK(c == MPI_UNDEFINED);
    }

    /* negative counts */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    {
        int e, cls;
        e = MPI_Send_c(sb, -1, MPI_INT, right, 0, MPI_COMM_WORLD);
        MPI_Error_class(e, &cls); CHECK(cls == MPI_ERR_COUNT);
        e = MPI_Irecv_c(rb, -5, MPI_INT, left, 0, MPI_COMM_WORLD, &rq[0]);
        MPI_Error_class(e, &cls); CHECK(cls == MPI_ERR_COUNT);
        e = MPI_Send_init_c(sb, (MPI_Count)-1 << 40, MPI_INT, right, 0, MPI_COMM_WORLD, &rq[0]);
        MPI_Error_class(e, &cls); CHECK(cls == MPI_ERR_COUNT);
        e = MPI_Sendrecv_c(sb, 1, MPI_INT, right, 0, rb, -1, MPI_INT, left, 0, MPI_COMM_WORLD, &st);
        MPI_Error_class(e, &cls); CHECK(cls == MPI_ERR_COUNT);
    }

    MPI_Type_free(&vec);
    if (rank == 0) printf("sizeof(MPI_Count) = %d\n", (int)sizeof(MPI_Count));
    printf("rank %d of %d: %s\n", rank, size, fails ? "FAIL" : "PASS");
    MPI_Finalize();
    return 0;
}
