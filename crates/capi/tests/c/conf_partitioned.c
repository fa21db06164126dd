/* MPI-4 partitioned point-to-point: every rank sends to the next in a ring
 * (MPI_Psend_init) and receives from the previous (MPI_Precv_init), started
 * several times with new contents; partitions marked ready one by one in
 * reverse order (MPI_Pready), as ranges (MPI_Pready_range) and as lists
 * (MPI_Pready_list); sender and receiver split the buffer differently; a
 * derived datatype; MPI_Parrived polled until every partition has arrived;
 * completion through MPI_Wait, MPI_Waitall and MPI_Test; partitioned messages
 * do not match a plain receive with the same tag; MPI_PROC_NULL; argument
 * errors under MPI_ERRORS_RETURN (the classes are printed). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int fails = 0, rank = -1, size = 0;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

#define PARTS 8
#define PER 16
#define ITERS 5

static int v(int who, int it, int i) { return who * 100000 + it * 1000 + i; }

static void err(const char *what, int rc) {
    int cls;
    MPI_Error_class(rc, &cls);
    printf("rank %d: %s -> %s\n", rank, what, cls == MPI_SUCCESS ? "success" : "error");
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int to = (rank + 1) % size, from = (rank + size - 1) % size;
    int sb[PARTS * PER], rb[PARTS * PER];
    MPI_Request r[2];

    /* Ring: 8 send partitions of 16 ints, 4 receive partitions of 32 */
    CHECK(MPI_Precv_init(rb, PARTS / 2, 2 * PER, MPI_INT, from, 7, MPI_COMM_WORLD, MPI_INFO_NULL, &r[0]) == MPI_SUCCESS);
    CHECK(MPI_Psend_init(sb, PARTS, PER, MPI_INT, to, 7, MPI_COMM_WORLD, MPI_INFO_NULL, &r[1]) == MPI_SUCCESS);
    for (int it = 0; it < ITERS; it++) {
        for (int i = 0; i < PARTS * PER; i++) { sb[i] = v(rank, it, i); rb[i] = -1; }
        CHECK(MPI_Startall(2, r) == MPI_SUCCESS);
        switch (it % 3) {
        case 0:
            for (int p = PARTS - 1; p >= 0; p--) CHECK(MPI_Pready(p, r[1]) == MPI_SUCCESS);
            break;
        case 1:
            CHECK(MPI_Pready_range(0, 2, r[1]) == MPI_SUCCESS);
            CHECK(MPI_Pready_range(3, PARTS - 1, r[1]) == MPI_SUCCESS);
            break;
        default: {
            int odd[PARTS / 2], even[PARTS / 2];
            for (int i = 0; i < PARTS / 2; i++) { odd[i] = 2 * i + 1; even[i] = 2 * i; }
            CHECK(MPI_Pready_list(PARTS / 2, odd, r[1]) == MPI_SUCCESS);
            CHECK(MPI_Pready_list(PARTS / 2, even, r[1]) == MPI_SUCCESS);
        }
        }
        /* Every receive partition arrives */
        for (int p = 0; p < PARTS / 2; p++) {
            int flag = 0;
            while (!flag) CHECK(MPI_Parrived(r[0], p, &flag) == MPI_SUCCESS);
            for (int i = 0; i < 2 * PER; i++) CHECK(rb[p * 2 * PER + i] == v(from, it, p * 2 * PER + i));
        }
        /* The receive's status names the sender and the user's tag */
        MPI_Status st;
        int fl = 0;
        while (!fl) CHECK(MPI_Request_get_status(r[0], &fl, &st) == MPI_SUCCESS);
        CHECK(st.MPI_SOURCE == from && st.MPI_TAG == 7);
        if (it % 2 == 0) {
            MPI_Status sts[2];
            CHECK(MPI_Waitall(2, r, sts) == MPI_SUCCESS);
            CHECK(sts[0].MPI_SOURCE == from && sts[0].MPI_TAG == 7);
        } else {
            CHECK(MPI_Wait(&r[1], MPI_STATUS_IGNORE) == MPI_SUCCESS);
            int flag = 0;
            while (!flag) CHECK(MPI_Test(&r[0], &flag, &st) == MPI_SUCCESS);
            CHECK(st.MPI_SOURCE == from && st.MPI_TAG == 7);
        }
        CHECK(r[0] != MPI_REQUEST_NULL && r[1] != MPI_REQUEST_NULL);
    }
    CHECK(MPI_Request_free(&r[0]) == MPI_SUCCESS && r[0] == MPI_REQUEST_NULL);
    CHECK(MPI_Request_free(&r[1]) == MPI_SUCCESS && r[1] == MPI_REQUEST_NULL);

    /* A plain message with the same tag, sent after the partitioned one, goes
     * to the plain receive; the partitioned one to the partitioned receive. */
    {
        int plain = -1, mine = v(rank, 9, 0);
        MPI_Request q[4];
        CHECK(MPI_Precv_init(rb, 1, 4, MPI_INT, from, 3, MPI_COMM_WORLD, MPI_INFO_NULL, &q[0]) == MPI_SUCCESS);
        CHECK(MPI_Psend_init(sb, 1, 4, MPI_INT, to, 3, MPI_COMM_WORLD, MPI_INFO_NULL, &q[1]) == MPI_SUCCESS);
        for (int i = 0; i < 4; i++) { sb[i] = v(rank, 8, i); rb[i] = -1; }
        CHECK(MPI_Irecv(&plain, 1, MPI_INT, from, 3, MPI_COMM_WORLD, &q[2]) == MPI_SUCCESS);
        CHECK(MPI_Startall(2, q) == MPI_SUCCESS);
        CHECK(MPI_Pready(0, q[1]) == MPI_SUCCESS);
        CHECK(MPI_Isend(&mine, 1, MPI_INT, to, 3, MPI_COMM_WORLD, &q[3]) == MPI_SUCCESS);
        CHECK(MPI_Waitall(4, q, MPI_STATUSES_IGNORE) == MPI_SUCCESS);
        CHECK(plain == v(from, 9, 0));
        for (int i = 0; i < 4; i++) CHECK(rb[i] == v(from, 8, i));
        MPI_Request_free(&q[0]);
        MPI_Request_free(&q[1]);
    }

    /* A derived datatype (every other int), one partition per element */
    {
        MPI_Datatype t;
        MPI_Type_vector(2, 1, 2, MPI_INT, &t);
        MPI_Type_commit(&t);
        CHECK(MPI_Psend_init(sb, 4, 1, t, to, 4, MPI_COMM_WORLD, MPI_INFO_NULL, &r[1]) == MPI_SUCCESS);
        CHECK(MPI_Precv_init(rb, 2, 4, MPI_INT, from, 4, MPI_COMM_WORLD, MPI_INFO_NULL, &r[0]) == MPI_SUCCESS);
        MPI_Type_free(&t);
        for (int it = 0; it < 3; it++) {
            for (int i = 0; i < 16; i++) { sb[i] = v(rank, it, i); rb[i] = -1; }
            CHECK(MPI_Start(&r[0]) == MPI_SUCCESS);
            CHECK(MPI_Start(&r[1]) == MPI_SUCCESS);
            CHECK(MPI_Pready_range(0, 3, r[1]) == MPI_SUCCESS);
            CHECK(MPI_Waitall(2, r, MPI_STATUSES_IGNORE) == MPI_SUCCESS);
            /* vector(2,1,2) has extent 3 ints: elements 0,2 | 3,5 | 6,8 | 9,11 */
            int want[8] = {0, 2, 3, 5, 6, 8, 9, 11};
            for (int i = 0; i < 8; i++) CHECK(rb[i] == v(from, it, want[i]));
            CHECK(rb[8] == -1);
        }
        MPI_Request_free(&r[0]);
        MPI_Request_free(&r[1]);
    }

    /* MPI_PROC_NULL: both sides complete at once */
    CHECK(MPI_Psend_init(sb, 2, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD, MPI_INFO_NULL, &r[1]) == MPI_SUCCESS);
    CHECK(MPI_Precv_init(rb, 2, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD, MPI_INFO_NULL, &r[0]) == MPI_SUCCESS);
    CHECK(MPI_Startall(2, r) == MPI_SUCCESS);
    CHECK(MPI_Pready_range(0, 1, r[1]) == MPI_SUCCESS);
    CHECK(MPI_Waitall(2, r, MPI_STATUSES_IGNORE) == MPI_SUCCESS);
    MPI_Request_free(&r[0]);
    MPI_Request_free(&r[1]);

    /* Argument errors */
    MPI_Request e = MPI_REQUEST_NULL;
    err("MPI_Psend_init dest=size", MPI_Psend_init(sb, 1, 1, MPI_INT, size, 0, MPI_COMM_WORLD, MPI_INFO_NULL, &e));
    err("MPI_Psend_init tag=-5", MPI_Psend_init(sb, 1, 1, MPI_INT, to, -5, MPI_COMM_WORLD, MPI_INFO_NULL, &e));
    err("MPI_Precv_init count=-1", MPI_Precv_init(rb, 1, -1, MPI_INT, from, 0, MPI_COMM_WORLD, MPI_INFO_NULL, &e));
    err("MPI_Precv_init comm null", MPI_Precv_init(rb, 1, 1, MPI_INT, from, 0, MPI_COMM_NULL, MPI_INFO_NULL, &e));

    if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return 0;
}
