/* MPI_Isendrecv and MPI_Isendrecv_replace (and their _c forms): nonblocking, the
 * request completes when both the send and the receive have. Around a ring: small
 * and large (rendezvous) messages, a strided datatype, completion through
 * MPI_Wait, MPI_Test loops, MPI_Waitall, MPI_Waitany and MPI_Request_get_status,
 * MPI_PROC_NULL peers, and the status of the receive half. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)
#define BIG (1 << 20)

int main(int argc, char **argv) {
    int size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int right = (rank + 1) % size, left = (rank + size - 1) % size;
    MPI_Status st;
    MPI_Request rq, rqs[3];
    int cnt;

    /* small, waited for */
    {
        int s[4] = {rank, rank + 1, rank + 2, rank + 3}, r[4] = {0};
        MPI_Isendrecv(s, 4, MPI_INT, right, 1, r, 4, MPI_INT, left, 1, MPI_COMM_WORLD, &rq);
        MPI_Wait(&rq, &st);
        CHECK(rq == MPI_REQUEST_NULL);
        CHECK(r[0] == left && r[3] == left + 3);
        CHECK(st.MPI_SOURCE == left && st.MPI_TAG == 1);
        MPI_Get_count(&st, MPI_INT, &cnt); CHECK(cnt == 4);
    }
    /* large (rendezvous), tested in a loop, _c form */
    {
        char *s = malloc(BIG), *r = malloc(BIG);
        memset(s, rank + 1, BIG); memset(r, 0, BIG);
        MPI_Isendrecv_c(s, BIG, MPI_BYTE, right, 2, r, BIG, MPI_BYTE, left, 2, MPI_COMM_WORLD, &rq);
        int flag = 0;
        while (!flag) MPI_Test(&rq, &flag, &st);
        CHECK(r[0] == left + 1 && r[BIG - 1] == left + 1);
        MPI_Count c; MPI_Get_count_c(&st, MPI_BYTE, &c); CHECK(c == BIG);
        /* the send buffer is free once the request completes */
        memset(s, 0x55, BIG);
        MPI_Barrier(MPI_COMM_WORLD);
        free(s); free(r);
    }
    /* a strided type, replace, several at once with Waitall */
    {
        MPI_Datatype vec;
        MPI_Type_vector(3, 1, 2, MPI_INT, &vec);
        MPI_Type_commit(&vec);
        int a[6], b[6], c[4] = {rank * 10, rank * 10 + 1, rank * 10 + 2, rank * 10 + 3};
        for (int i = 0; i < 6; i++) { a[i] = i % 2 ? -1 : rank * 100 + i; b[i] = -2; }
        MPI_Isendrecv(a, 1, vec, right, 3, b, 1, vec, left, 3, MPI_COMM_WORLD, &rqs[0]);
        MPI_Isendrecv_replace(c, 4, MPI_INT, right, 4, left, 4, MPI_COMM_WORLD, &rqs[1]);
        MPI_Isendrecv_replace_c(a, 1, vec, right, 5, left, 5, MPI_COMM_WORLD, &rqs[2]);
        MPI_Waitall(3, rqs, MPI_STATUSES_IGNORE);
        CHECK(b[0] == left * 100 && b[2] == left * 100 + 2 && b[4] == left * 100 + 4 && b[1] == -2 && b[5] == -2);
        CHECK(c[0] == left * 10 && c[3] == left * 10 + 3);
        CHECK(a[0] == left * 100 && a[4] == left * 100 + 4 && a[1] == -1);
        MPI_Type_free(&vec);
    }
    /* Waitany, Request_get_status */
    {
        int s = rank, r = -1, s2 = rank + 50, r2 = -1, idx, flag = 0;
        MPI_Isendrecv(&s, 1, MPI_INT, right, 6, &r, 1, MPI_INT, left, 6, MPI_COMM_WORLD, &rqs[0]);
        MPI_Isendrecv(&s2, 1, MPI_INT, right, 7, &r2, 1, MPI_INT, left, 7, MPI_COMM_WORLD, &rqs[1]);
        while (!flag) MPI_Request_get_status(rqs[1], &flag, MPI_STATUS_IGNORE);
        MPI_Waitany(2, rqs, &idx, &st);
        MPI_Waitany(2, rqs, &idx, &st);
        CHECK(rqs[0] == MPI_REQUEST_NULL && rqs[1] == MPI_REQUEST_NULL);
        CHECK(r == left && r2 == left + 50);
    }
    /* MPI_PROC_NULL halves */
    {
        int s = 7, r = -3;
        MPI_Isendrecv(&s, 1, MPI_INT, MPI_PROC_NULL, 8, &r, 1, MPI_INT, MPI_PROC_NULL, 8, MPI_COMM_WORLD, &rq);
        MPI_Wait(&rq, &st);
        CHECK(r == -3 && st.MPI_SOURCE == MPI_PROC_NULL && st.MPI_TAG == MPI_ANY_TAG);
        MPI_Get_count(&st, MPI_INT, &cnt); CHECK(cnt == 0);
        /* send only: to the right, receive from nobody; the right receives it */
        int got = -1;
        MPI_Isendrecv(&s, 1, MPI_INT, right, 9, NULL, 0, MPI_INT, MPI_PROC_NULL, 9, MPI_COMM_WORLD, &rq);
        MPI_Recv(&got, 1, MPI_INT, left, 9, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Wait(&rq, MPI_STATUS_IGNORE);
        CHECK(got == 7);
    }
    printf("rank %d of %d: %s\n", rank, size, fails ? "FAIL" : "PASS");
    MPI_Finalize();
    return 0;
}
