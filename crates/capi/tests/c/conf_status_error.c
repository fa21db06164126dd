/* MPI_ERROR in a status: the single-completion calls leave it alone (MPI-3.1
 * §3.2.5: only the calls that complete several requests set it), and MPI_Wait,
 * MPI_Test and MPI_Request_get_status of MPI_REQUEST_NULL or of an inactive
 * persistent request give the empty status (§3.7.3): source MPI_ANY_SOURCE, tag
 * MPI_ANY_TAG, count 0. The sentinel 12345 must survive every single-completion
 * call. (MPICH sets MPI_ERROR to 0 in MPI_Request_get_status of MPI_REQUEST_NULL,
 * so this program is not compared with it.) */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)
#define SENTINEL 12345

static MPI_Status fresh(void) {
    MPI_Status s;
    memset(&s, 0x55, sizeof s);
    s.MPI_ERROR = SENTINEL;
    return s;
}

/* A status of a received message of `n` ints from `src` with `tag`. */
static void msg(const char *what, int line, MPI_Status *s, int src, int tag, int n) {
    int c = -1;
    MPI_Get_count(s, MPI_INT, &c);
    if (s->MPI_ERROR != SENTINEL || s->MPI_SOURCE != src || s->MPI_TAG != tag || c != n) {
        fails++;
        printf("rank %d: FAIL line %d: %s: source %d tag %d count %d error %d (want %d %d %d %d)\n", rank, line,
               what, s->MPI_SOURCE, s->MPI_TAG, c, s->MPI_ERROR, src, tag, n, SENTINEL);
    }
}

static void empty(const char *what, int line, MPI_Status *s) {
    int c = -1, e = -1, canc = -1;
    MPI_Get_count(s, MPI_INT, &c);
    MPI_Get_elements(s, MPI_INT, &e);
    MPI_Test_cancelled(s, &canc);
    if (s->MPI_ERROR != SENTINEL || s->MPI_SOURCE != MPI_ANY_SOURCE || s->MPI_TAG != MPI_ANY_TAG || c != 0 || e != 0 || canc) {
        fails++;
        printf("rank %d: FAIL line %d: %s: not the empty status: source %d tag %d count %d elements %d cancelled %d "
               "error %d\n", rank, line, what, s->MPI_SOURCE, s->MPI_TAG, c, e, canc, s->MPI_ERROR);
    }
}

/* Sends to self are nonblocking: a blocking send with no receive posted may
 * block (MPICH's does). They are completed at the end. */
static MPI_Request sends[32];
static int nsends = 0;
static int xs[4] = {1, 2, 3, 4};
static void send_self(int n, int tag) {
    MPI_Isend(xs, n, MPI_INT, 0, tag, MPI_COMM_SELF, &sends[nsends++]);
}

#define MSG(w, s, src, tag, n) msg(w, __LINE__, s, src, tag, n)
#define EMPTY(w, s) empty(w, __LINE__, s)

int main(int argc, char **argv) {
    int size, x[4] = {1, 2, 3, 4}, y[4], flag;
    MPI_Status s;
    MPI_Request r;
    MPI_Message m;
    MPI_Comm self = MPI_COMM_SELF;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    /* MPI_Recv */
    send_self(4, 1);
    s = fresh(); MPI_Recv(y, 4, MPI_INT, 0, 1, self, &s); MSG("MPI_Recv", &s, 0, 1, 4);
    /* MPI_Probe, MPI_Iprobe */
    send_self(3, 2);
    s = fresh(); MPI_Probe(0, 2, self, &s); MSG("MPI_Probe", &s, 0, 2, 3);
    s = fresh(); flag = 0; MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, self, &flag, &s);
    CHECK(flag); MSG("MPI_Iprobe", &s, 0, 2, 3);
    MPI_Recv(y, 4, MPI_INT, 0, 2, self, MPI_STATUS_IGNORE);
    /* MPI_Mprobe + MPI_Mrecv, MPI_Improbe + MPI_Imrecv + MPI_Wait */
    send_self(2, 3);
    s = fresh(); MPI_Mprobe(0, 3, self, &m, &s); MSG("MPI_Mprobe", &s, 0, 3, 2);
    s = fresh(); MPI_Mrecv(y, 4, MPI_INT, &m, &s); MSG("MPI_Mrecv", &s, 0, 3, 2);
    send_self(1, 4);
    s = fresh(); flag = 0; MPI_Improbe(0, 4, self, &flag, &m, &s); CHECK(flag); MSG("MPI_Improbe", &s, 0, 4, 1);
    MPI_Imrecv(y, 4, MPI_INT, &m, &r);
    s = fresh(); MPI_Wait(&r, &s); MSG("MPI_Imrecv+MPI_Wait", &s, 0, 4, 1);
    /* MPI_Test */
    MPI_Irecv(y, 4, MPI_INT, 0, 5, self, &r);
    send_self(4, 5);
    s = fresh(); flag = 0;
    while (!flag) MPI_Test(&r, &flag, &s);
    MSG("MPI_Test", &s, 0, 5, 4);
    /* MPI_Request_get_status (the request stays), then MPI_Wait */
    MPI_Irecv(y, 4, MPI_INT, 0, 6, self, &r);
    send_self(2, 6);
    s = fresh(); flag = 0;
    while (!flag) MPI_Request_get_status(r, &flag, &s);
    MSG("MPI_Request_get_status", &s, 0, 6, 2);
    s = fresh(); MPI_Wait(&r, &s); MSG("MPI_Wait", &s, 0, 6, 2);
    /* MPI_Sendrecv around the ring of MPI_COMM_WORLD */
    {
        int to = (rank + 1) % size, from = (rank + size - 1) % size;
        s = fresh();
        MPI_Sendrecv(x, 3, MPI_INT, to, 7, y, 4, MPI_INT, from, 7, MPI_COMM_WORLD, &s);
        MSG("MPI_Sendrecv", &s, from, 7, 3);
        s = fresh();
        MPI_Sendrecv_replace(y, 2, MPI_INT, to, 8, from, 8, MPI_COMM_WORLD, &s);
        MSG("MPI_Sendrecv_replace", &s, from, 8, 2);
    }
    /* MPI_Waitany, MPI_Testany */
    {
        MPI_Request rs[3] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL, MPI_REQUEST_NULL};
        int idx = -1;
        MPI_Irecv(y, 4, MPI_INT, 0, 9, self, &rs[1]);
        send_self(1, 9);
        s = fresh(); MPI_Waitany(3, rs, &idx, &s); CHECK(idx == 1); MSG("MPI_Waitany", &s, 0, 9, 1);
        MPI_Irecv(y, 4, MPI_INT, 0, 10, self, &rs[2]);
        send_self(4, 10);
        s = fresh(); flag = 0;
        while (!flag) MPI_Testany(3, rs, &idx, &flag, &s);
        CHECK(idx == 2); MSG("MPI_Testany", &s, 0, 10, 4);
        /* all null: the empty status, index MPI_UNDEFINED */
        s = fresh(); MPI_Waitany(3, rs, &idx, &s); CHECK(idx == MPI_UNDEFINED); EMPTY("MPI_Waitany (all null)", &s);
        s = fresh(); flag = 0; MPI_Testany(3, rs, &idx, &flag, &s);
        CHECK(flag && idx == MPI_UNDEFINED); EMPTY("MPI_Testany (all null)", &s);
    }
    /* MPI_PROC_NULL: source MPI_PROC_NULL, tag MPI_ANY_TAG, count 0, error untouched */
    s = fresh(); MPI_Recv(y, 4, MPI_INT, MPI_PROC_NULL, 0, self, &s); MSG("MPI_Recv from MPI_PROC_NULL", &s, MPI_PROC_NULL, MPI_ANY_TAG, 0);
    s = fresh(); MPI_Probe(MPI_PROC_NULL, 0, self, &s); MSG("MPI_Probe of MPI_PROC_NULL", &s, MPI_PROC_NULL, MPI_ANY_TAG, 0);

    /* The empty status: MPI_REQUEST_NULL */
    r = MPI_REQUEST_NULL;
    s = fresh(); MPI_Wait(&r, &s); EMPTY("MPI_Wait(MPI_REQUEST_NULL)", &s);
    s = fresh(); flag = 0; MPI_Test(&r, &flag, &s); CHECK(flag); EMPTY("MPI_Test(MPI_REQUEST_NULL)", &s);
    s = fresh(); flag = 0; MPI_Request_get_status(r, &flag, &s); CHECK(flag); EMPTY("MPI_Request_get_status(MPI_REQUEST_NULL)", &s);
    /* ... and an inactive persistent request, before its first start and after a completed one */
    MPI_Recv_init(y, 4, MPI_INT, 0, 11, self, &r);
    s = fresh(); MPI_Wait(&r, &s); EMPTY("MPI_Wait(inactive)", &s); CHECK(r != MPI_REQUEST_NULL);
    s = fresh(); flag = 0; MPI_Test(&r, &flag, &s); CHECK(flag); EMPTY("MPI_Test(inactive)", &s);
    s = fresh(); flag = 0; MPI_Request_get_status(r, &flag, &s); CHECK(flag); EMPTY("MPI_Request_get_status(inactive)", &s);
    MPI_Start(&r);
    send_self(2, 11);
    s = fresh(); MPI_Wait(&r, &s); MSG("MPI_Wait(persistent)", &s, 0, 11, 2);
    s = fresh(); MPI_Wait(&r, &s); EMPTY("MPI_Wait(inactive after a start)", &s);
    MPI_Request_free(&r);

    /* The multiple-completion calls do set it: MPI_SUCCESS for each completed request
     * (MPICH's MPI_Waitsome leaves it: not checked there). */
    {
        MPI_Request rs[2];
        MPI_Status ss[2];
        MPI_Irecv(y, 4, MPI_INT, 0, 12, self, &rs[0]);
        MPI_Isend(x, 2, MPI_INT, 0, 12, self, &rs[1]);
        ss[0] = fresh(); ss[1] = fresh();
        MPI_Waitall(2, rs, ss);
        CHECK(ss[0].MPI_ERROR == MPI_SUCCESS && ss[1].MPI_ERROR == MPI_SUCCESS);
        CHECK(ss[0].MPI_SOURCE == 0 && ss[0].MPI_TAG == 12);
        int outc = 0, ind[2];
        MPI_Irecv(y, 4, MPI_INT, 0, 13, self, &rs[0]);
        send_self(2, 13);
        ss[0] = fresh();
        MPI_Waitsome(1, rs, &outc, ind, ss);
        CHECK(outc == 1 && ind[0] == 0 && ss[0].MPI_TAG == 13);
    }

    MPI_Waitall(nsends, sends, MPI_STATUSES_IGNORE);
    if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return fails != 0;
}
