/* Collectives on intercommunicators (MPI-3.1 §5.2.2), each in its blocking,
 * nonblocking and persistent form (the persistent request started twice):
 * barrier, bcast, gather(v), scatter(v), allgather(v), alltoall(v/w), reduce,
 * allreduce, reduce_scatter(_block). MPI_COMM_WORLD splits into a group of one
 * and the rest, and (from 4 ranks) into two halves; the second group is ordered
 * backwards (key -rank), so local, remote and world ranks all differ. Rooted
 * calls run rooted in either group at its last rank; the MPI_PROC_NULL ranks'
 * buffers must stay untouched. Every value is a function of (group, rank,
 * index) that the receiver checks. Scan and exscan are not defined on
 * intercommunicators: MPI_ERR_COMM. World rank 0 prints one line per
 * collective and form after summing the failures; any failure exits 1. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int wrank = -1, fails = 0;
static int G, lr, L, R; /* my group (0: the first), local rank, local size, remote size */

#define FAIL(...) do { fails++; fprintf(stderr, "rank %d: ", wrank); fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); } while (0)
#define EXPECT(got, want, what, i) do { if ((got) != (want)) FAIL("%s[%d]: got %d, expected %d", what, (int)(i), (int)(got), (int)(want)); } while (0)

static int v(int g, int r, int i) { return 100000 * g + 1000 * r + i; }

static void rc_ok(int rc, const char *what) {
    if (rc != MPI_SUCCESS) {
        char s[MPI_MAX_ERROR_STRING];
        int n;
        MPI_Error_string(rc, s, &n);
        FAIL("%s returned %d: %s", what, rc, s);
    }
}

/* The three forms of one collective: NAME (blocking), INAME and NAME_init. */
#define DO(Name, iname, ...) do { \
    if (mode == 0) { \
        rc_ok(MPI_##Name(__VA_ARGS__), "MPI_" #Name); \
    } else if (mode == 1) { \
        MPI_Request r_; \
        rc_ok(MPI_I##iname(__VA_ARGS__, &r_), "MPI_I" #iname); \
        rc_ok(MPI_Wait(&r_, MPI_STATUS_IGNORE), "MPI_Wait"); \
    } else { \
        MPI_Request r_; \
        rc_ok(MPI_##Name##_init(__VA_ARGS__, MPI_INFO_NULL, &r_), "MPI_" #Name "_init"); \
        for (int k_ = 0; k_ < 2; k_++) { \
            rc_ok(MPI_Start(&r_), "MPI_Start"); \
            rc_ok(MPI_Wait(&r_, MPI_STATUS_IGNORE), "MPI_Wait"); \
        } \
        rc_ok(MPI_Request_free(&r_), "MPI_Request_free"); \
    } \
} while (0)

static const char *forms[3] = {"blocking", "nonblocking", "persistent"};

/* The root argument of a call rooted at the last rank of group rg. */
static int root_of(int rg) {
    if (G == rg)
        return lr == L - 1 ? MPI_ROOT : MPI_PROC_NULL;
    return R - 1;
}

static void t_barrier(MPI_Comm ic, int mode) { DO(Barrier, barrier, ic); }

static void t_bcast(MPI_Comm ic, int mode) {
    for (int rg = 0; rg < 2; rg++) {
        int root = root_of(rg), buf[5];
        for (int i = 0; i < 5; i++)
            buf[i] = root == MPI_ROOT ? v(G, lr, i) : -7;
        DO(Bcast, bcast, buf, 5, MPI_INT, root, ic);
        for (int i = 0; i < 5; i++) {
            int want = root == MPI_ROOT ? v(G, lr, i) : root == MPI_PROC_NULL ? -7 : v(rg, R - 1, i);
            EXPECT(buf[i], want, "bcast", i);
        }
    }
}

static void t_gather(MPI_Comm ic, int mode) {
    for (int rg = 0; rg < 2; rg++) {
        int root = root_of(rg), send[3], *recv = malloc(sizeof(int) * 3 * R);
        for (int i = 0; i < 3; i++)
            send[i] = v(G, lr, i);
        for (int i = 0; i < 3 * R; i++)
            recv[i] = -7;
        DO(Gather, gather, send, 3, MPI_INT, recv, 3, MPI_INT, root, ic);
        for (int j = 0; j < R; j++)
            for (int i = 0; i < 3; i++)
                EXPECT(recv[3 * j + i], root == MPI_ROOT ? v(1 - G, j, i) : -7, "gather", 3 * j + i);
        free(recv);
    }
}

static void t_gatherv(MPI_Comm ic, int mode) {
    for (int rg = 0; rg < 2; rg++) {
        int root = root_of(rg), send[8], n = R * (R + 2);
        int *recv = malloc(sizeof(int) * n), *counts = malloc(sizeof(int) * R), *displs = malloc(sizeof(int) * R);
        for (int i = 0; i < lr + 1; i++)
            send[i] = v(G, lr, i);
        for (int j = 0; j < R; j++) {
            counts[j] = j + 1;
            displs[j] = (R - 1 - j) * (R + 2); /* backwards, with gaps */
        }
        for (int i = 0; i < n; i++)
            recv[i] = -7;
        DO(Gatherv, gatherv, send, lr + 1, MPI_INT, recv, counts, displs, MPI_INT, root, ic);
        for (int j = 0; j < R; j++)
            for (int i = 0; i < R + 2; i++) {
                int want = root == MPI_ROOT && i < j + 1 ? v(1 - G, j, i) : -7;
                EXPECT(recv[displs[j] + i], want, "gatherv", displs[j] + i);
            }
        free(recv), free(counts), free(displs);
    }
}

static void t_scatter(MPI_Comm ic, int mode) {
    for (int rg = 0; rg < 2; rg++) {
        int root = root_of(rg), recv[3], *send = malloc(sizeof(int) * 3 * R);
        for (int j = 0; j < R; j++)
            for (int i = 0; i < 3; i++)
                send[3 * j + i] = v(G, j, i);
        for (int i = 0; i < 3; i++)
            recv[i] = -7;
        DO(Scatter, scatter, send, 3, MPI_INT, recv, 3, MPI_INT, root, ic);
        for (int i = 0; i < 3; i++)
            EXPECT(recv[i], root >= 0 ? v(rg, lr, i) : -7, "scatter", i);
        free(send);
    }
}

static void t_scatterv(MPI_Comm ic, int mode) {
    for (int rg = 0; rg < 2; rg++) {
        int root = root_of(rg), recv[8], n = R * (R + 2);
        int *send = malloc(sizeof(int) * n), *counts = malloc(sizeof(int) * R), *displs = malloc(sizeof(int) * R);
        for (int j = 0; j < R; j++) {
            counts[j] = j + 1;
            displs[j] = (R - 1 - j) * (R + 2);
            for (int i = 0; i < R + 2; i++)
                send[displs[j] + i] = v(G, j, i);
        }
        for (int i = 0; i < 8; i++)
            recv[i] = -7;
        DO(Scatterv, scatterv, send, counts, displs, MPI_INT, recv, lr + 1, MPI_INT, root, ic);
        for (int i = 0; i < 8; i++)
            EXPECT(recv[i], root >= 0 && i < lr + 1 ? v(rg, lr, i) : -7, "scatterv", i);
        free(send), free(counts), free(displs);
    }
}

static void t_allgather(MPI_Comm ic, int mode) {
    int send[2], *recv = malloc(sizeof(int) * 2 * R);
    for (int i = 0; i < 2; i++)
        send[i] = v(G, lr, i);
    DO(Allgather, allgather, send, 2, MPI_INT, recv, 2, MPI_INT, ic);
    for (int j = 0; j < R; j++)
        for (int i = 0; i < 2; i++)
            EXPECT(recv[2 * j + i], v(1 - G, j, i), "allgather", 2 * j + i);
    free(recv);
}

static void t_allgatherv(MPI_Comm ic, int mode) {
    int send[8], n = R * (R + 2);
    int *recv = malloc(sizeof(int) * n), *counts = malloc(sizeof(int) * R), *displs = malloc(sizeof(int) * R);
    for (int i = 0; i < lr + 1; i++)
        send[i] = v(G, lr, i);
    for (int j = 0; j < R; j++) {
        counts[j] = j + 1;
        /* The first group lays its blocks out backwards, the second in order. */
        displs[j] = G == 0 ? (R - 1 - j) * (R + 2) : j * (j + 1) / 2;
    }
    for (int i = 0; i < n; i++)
        recv[i] = -7;
    DO(Allgatherv, allgatherv, send, lr + 1, MPI_INT, recv, counts, displs, MPI_INT, ic);
    for (int j = 0; j < R; j++)
        for (int i = 0; i < j + 1; i++)
            EXPECT(recv[displs[j] + i], v(1 - G, j, i), "allgatherv", displs[j] + i);
    free(recv), free(counts), free(displs);
}

/* What rank s of group g sends rank r of the other group in an alltoall. */
static int a2a(int g, int s, int r, int i) { return v(g, s, 10 * r + i); }
/* Block sizes of the v and w forms: sender s, receiver r. */
static int a2a_n(int s, int r) { return (s + 2 * r) % 3 + 1; }

static void t_alltoall(MPI_Comm ic, int mode) {
    int *send = malloc(sizeof(int) * 2 * R), *recv = malloc(sizeof(int) * 2 * R);
    for (int j = 0; j < R; j++)
        for (int i = 0; i < 2; i++)
            send[2 * j + i] = a2a(G, lr, j, i);
    DO(Alltoall, alltoall, send, 2, MPI_INT, recv, 2, MPI_INT, ic);
    for (int j = 0; j < R; j++)
        for (int i = 0; i < 2; i++)
            EXPECT(recv[2 * j + i], a2a(1 - G, j, lr, i), "alltoall", 2 * j + i);
    free(send), free(recv);
}

static void t_alltoallvw(MPI_Comm ic, int mode, int w) {
    int sc[64], sd[64], rc[64], rd[64], sbytes[64], rbytes[64];
    MPI_Datatype types[64];
    int sn = 0, rn = 0;
    for (int j = 0; j < R; j++) {
        sc[j] = a2a_n(lr, j), sd[j] = sn, sn += sc[j] + 1;
        rc[j] = a2a_n(j, lr), rd[j] = rn, rn += rc[j] + 1;
        sbytes[j] = sd[j] * (int)sizeof(int), rbytes[j] = rd[j] * (int)sizeof(int);
        types[j] = MPI_INT;
    }
    int *send = malloc(sizeof(int) * sn), *recv = malloc(sizeof(int) * rn);
    for (int j = 0; j < R; j++)
        for (int i = 0; i < sc[j]; i++)
            send[sd[j] + i] = a2a(G, lr, j, i);
    for (int i = 0; i < rn; i++)
        recv[i] = -7;
    if (w)
        DO(Alltoallw, alltoallw, send, sc, sbytes, types, recv, rc, rbytes, types, ic);
    else
        DO(Alltoallv, alltoallv, send, sc, sd, MPI_INT, recv, rc, rd, MPI_INT, ic);
    for (int j = 0; j < R; j++)
        for (int i = 0; i < rc[j] + 1; i++)
            EXPECT(recv[rd[j] + i], i < rc[j] ? a2a(1 - G, j, lr, i) : -7, w ? "alltoallw" : "alltoallv", rd[j] + i);
    free(send), free(recv);
}
static void t_alltoallv(MPI_Comm ic, int mode) { t_alltoallvw(ic, mode, 0); }
static void t_alltoallw(MPI_Comm ic, int mode) { t_alltoallvw(ic, mode, 1); }

/* The sum over the ranks of group g (of size n) of v(g, j, i). */
static int vsum(int g, int n, int i) {
    int s = 0;
    for (int j = 0; j < n; j++)
        s += v(g, j, i);
    return s;
}

static void t_reduce(MPI_Comm ic, int mode) {
    for (int rg = 0; rg < 2; rg++) {
        int root = root_of(rg), send[4], recv[4];
        for (int i = 0; i < 4; i++)
            send[i] = v(G, lr, i), recv[i] = -7;
        DO(Reduce, reduce, send, recv, 4, MPI_INT, MPI_SUM, root, ic);
        for (int i = 0; i < 4; i++)
            EXPECT(recv[i], root == MPI_ROOT ? vsum(1 - G, R, i) : -7, "reduce", i);
    }
}

static void t_allreduce(MPI_Comm ic, int mode) {
    int send[3], recv[3];
    for (int i = 0; i < 3; i++)
        send[i] = v(G, lr, i);
    DO(Allreduce, allreduce, send, recv, 3, MPI_INT, MPI_SUM, ic);
    for (int i = 0; i < 3; i++)
        EXPECT(recv[i], vsum(1 - G, R, i), "allreduce", i);
}

/* Reduce_scatter: both groups reduce vectors of L*R elements; this group's
 * counts (one per local rank) are R each, but for one moved from the last
 * rank's block to the first. */
static void t_reduce_scatter(MPI_Comm ic, int mode) {
    int total = L * R, counts[64], at = 0, mine = 0;
    for (int k = 0; k < L; k++) {
        counts[k] = R + (L > 1 && k == 0) - (L > 1 && k == L - 1);
        if (k < lr)
            at += counts[k];
    }
    mine = counts[lr];
    int *send = malloc(sizeof(int) * total), recv[64];
    for (int i = 0; i < total; i++)
        send[i] = v(G, lr, i);
    for (int i = 0; i < 64; i++)
        recv[i] = -7;
    DO(Reduce_scatter, reduce_scatter, send, recv, counts, MPI_INT, MPI_SUM, ic);
    for (int i = 0; i < mine + 1; i++)
        EXPECT(recv[i], i < mine ? vsum(1 - G, R, at + i) : -7, "reduce_scatter", i);
    free(send);
}

static void t_reduce_scatter_block(MPI_Comm ic, int mode) {
    int total = L * R, recv[64];
    int *send = malloc(sizeof(int) * total);
    for (int i = 0; i < total; i++)
        send[i] = v(G, lr, i);
    for (int i = 0; i < 64; i++)
        recv[i] = -7;
    DO(Reduce_scatter_block, reduce_scatter_block, send, recv, R, MPI_INT, MPI_SUM, ic);
    for (int i = 0; i < R + 1; i++)
        EXPECT(recv[i], i < R ? vsum(1 - G, R, lr * R + i) : -7, "reduce_scatter_block", i);
    free(send);
}

/* Scan and exscan: MPI_ERR_COMM in every form, nothing started. */
static void t_scans(MPI_Comm ic, int mode) {
    int send = 1, recv = 0, rc, cls;
    MPI_Request r = MPI_REQUEST_NULL;
    for (int ex = 0; ex < 2; ex++) {
        if (mode == 0)
            rc = ex ? MPI_Exscan(&send, &recv, 1, MPI_INT, MPI_SUM, ic) : MPI_Scan(&send, &recv, 1, MPI_INT, MPI_SUM, ic);
        else if (mode == 1)
            rc = ex ? MPI_Iexscan(&send, &recv, 1, MPI_INT, MPI_SUM, ic, &r)
                    : MPI_Iscan(&send, &recv, 1, MPI_INT, MPI_SUM, ic, &r);
        else
            rc = ex ? MPI_Exscan_init(&send, &recv, 1, MPI_INT, MPI_SUM, ic, MPI_INFO_NULL, &r)
                    : MPI_Scan_init(&send, &recv, 1, MPI_INT, MPI_SUM, ic, MPI_INFO_NULL, &r);
        MPI_Error_class(rc, &cls);
        if (cls != MPI_ERR_COMM)
            FAIL("%s on an intercommunicator: class %d, expected MPI_ERR_COMM", ex ? "exscan" : "scan", cls);
    }
}

struct test {
    const char *name;
    void (*f)(MPI_Comm, int);
};

static const struct test tests[] = {
    {"barrier", t_barrier},
    {"bcast", t_bcast},
    {"gather", t_gather},
    {"gatherv", t_gatherv},
    {"scatter", t_scatter},
    {"scatterv", t_scatterv},
    {"allgather", t_allgather},
    {"allgatherv", t_allgatherv},
    {"alltoall", t_alltoall},
    {"alltoallv", t_alltoallv},
    {"alltoallw", t_alltoallw},
    {"reduce", t_reduce},
    {"allreduce", t_allreduce},
    {"reduce_scatter", t_reduce_scatter},
    {"reduce_scatter_block", t_reduce_scatter_block},
};

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int size, total_fails = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &wrank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* The first group's sizes: 1 (as uneven as it gets), and half from 4 ranks. */
    int firsts[2] = {1, size / 2}, nconf = size >= 4 ? 2 : 1;
    for (int c = 0; c < nconf && size >= 2; c++) {
        int first = firsts[c];
        G = wrank < first ? 0 : 1;
        MPI_Comm local, ic;
        MPI_Comm_split(MPI_COMM_WORLD, G, G == 0 ? wrank : -wrank, &local);
        /* Leaders: world rank 0 and, ordered backwards, the last world rank. */
        MPI_Intercomm_create(local, 0, MPI_COMM_WORLD, G == 0 ? size - 1 : 0, 11, &ic);
        MPI_Comm_set_errhandler(ic, MPI_ERRORS_RETURN);
        MPI_Comm_rank(ic, &lr);
        MPI_Comm_size(ic, &L);
        MPI_Comm_remote_size(ic, &R);
        int ntests = (int)(sizeof tests / sizeof tests[0]);
        for (int t = 0; t <= ntests; t++) {
            for (int mode = 0; mode < 3; mode++) {
                int before = fails, bad = 0;
                if (t < ntests)
                    tests[t].f(ic, mode);
                else
                    t_scans(ic, mode);
                int mine = fails > before;
                MPI_Allreduce(&mine, &bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
                total_fails += bad;
                if (wrank == 0)
                    printf("%d+%d: %s %s: %s\n", first, size - first, t < ntests ? tests[t].name : "scan/exscan refused",
                           forms[mode], bad ? "FAIL" : "ok");
            }
        }
        /* The intercommunicator still carries ordinary traffic afterwards. */
        MPI_Barrier(ic);
        MPI_Comm_free(&ic);
        MPI_Comm_free(&local);
    }
    if (total_fails) {
        fprintf(stderr, "rank %d: %d failures\n", wrank, fails);
        MPI_Finalize();
        return 1;
    }
    printf("rank %d of %d: PASS\n", wrank, size);
    MPI_Finalize();
    return 0;
}
