/* Threaded soak: four threads per rank share one communicator for point-to-point
 * and receive with matched probes (MPI_Mprobe + MPI_Mrecv on ANY_SOURCE and
 * ANY_TAG, so a thread may take another thread's message, never half of it),
 * while each also makes communicators at once on its own duplicate
 * (create_group among a changing subset, idup beside a collective). Every
 * message is checked byte for byte against its (sender, thread, round), sizes
 * from 0 B to 300 KB so eager, cut and rendezvous paths all run.
 * Usage: soak_threads [ROUNDS]; prints the messages checked. */
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
static int rank, size, rounds = 200;
static MPI_Comm shared;           /* point-to-point of every thread */
static MPI_Comm own[THREADS];     /* each thread's collectives */
static int fails[THREADS];
static long checked[THREADS];

#define CHECK(t, c, ...) do { if (!(c)) { if (fails[t]++ < 5) { printf("rank %d thread %d: FAIL line %d: ", rank, t, __LINE__); printf(__VA_ARGS__); printf("\n"); } } } while (0)

static const int sizes[] = {0, 1, 8, 100, 1024, 16383, 16384, 16385, 40000, 65536, 300000};

static int msg_size(int src, int dst, int t, int round) {
    unsigned h = (unsigned)(src * 7919 + dst * 104729 + t * 1299709 + round * 15485863);
    h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
    return sizes[h % (sizeof sizes / sizeof sizes[0])];
}
static unsigned char byte_at(int src, int t, int round, int i) {
    return (unsigned char)(src * 31 + t * 17 + round * 7 + i * 13 + (i >> 8));
}

static void *work(void *arg) {
    int t = (int)(long)arg;
    MPI_Request *sreq = malloc(size * sizeof(MPI_Request));
    unsigned char **sbuf = calloc(size, sizeof(unsigned char *));
    MPI_Group g_own;
    MPI_Comm_group(own[t], &g_own);
    int *members = malloc(size * sizeof(int));
    unsigned seed = 77 + t;
    for (int round = 0; round < rounds; round++) {
        int tag = t * 100000 + round, ns = 0;
        for (int d = 0; d < size; d++) {
            if (d == rank) continue;
            int n = msg_size(rank, d, t, round);
            sbuf[d] = realloc(sbuf[d], n ? n : 1);
            for (int i = 0; i < n; i++) sbuf[d][i] = byte_at(rank, t, round, i);
            MPI_Isend(sbuf[d], n, MPI_BYTE, d, tag, shared, &sreq[ns++]);
        }
        for (int k = 0; k < size - 1; k++) {
            MPI_Message m;
            MPI_Status st;
            int n;
            MPI_Mprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, shared, &m, &st);
            MPI_Get_count(&st, MPI_BYTE, &n);
            unsigned char *b = malloc(n ? n : 1);
            MPI_Status st2;
            st2.MPI_ERROR = 12345; /* single-completion calls leave it alone */
            MPI_Mrecv(b, n, MPI_BYTE, &m, &st2);
            CHECK(t, st2.MPI_ERROR == 12345, "MPI_Mrecv overwrote status.MPI_ERROR (%d)", st2.MPI_ERROR);
            int src = st.MPI_SOURCE, tt = st.MPI_TAG / 100000, rr = st.MPI_TAG % 100000;
            CHECK(t, st2.MPI_SOURCE == src && st2.MPI_TAG == st.MPI_TAG, "mrecv status %d/%d vs probe %d/%d", st2.MPI_SOURCE, st2.MPI_TAG, src, st.MPI_TAG);
            CHECK(t, m == MPI_MESSAGE_NULL, "message handle not freed");
            CHECK(t, tt >= 0 && tt < THREADS && rr >= 0 && rr < rounds, "tag %d", st.MPI_TAG);
            int want = msg_size(src, rank, tt, rr);
            CHECK(t, n == want, "from %d tag %d: %d bytes, expected %d", src, st.MPI_TAG, n, want);
            int bad = -1;
            for (int i = 0; i < n && bad < 0; i++)
                if (b[i] != byte_at(src, tt, rr, i)) bad = i;
            CHECK(t, bad < 0, "from %d tag %d: byte %d of %d wrong", src, st.MPI_TAG, bad, n);
            free(b);
            checked[t]++;
        }
        MPI_Waitall(ns, sreq, MPI_STATUSES_IGNORE);
        if (round % 10 == 0) {
            /* communicators at once: create_group among a subset, idup beside
             * an allreduce on the thread's own communicator */
            int n = 0, in = 0, sum = 0, want = 0;
            for (int r = 0; r < size; r++)
                if (rand_r(&seed) % 3 != 0 || r == 0) { members[n++] = r; want += r; in |= r == rank; }
            if (in) {
                MPI_Group g;
                MPI_Comm c;
                MPI_Group_incl(g_own, n, members, &g);
                MPI_Comm_create_group(own[t], g, round, &c);
                MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, c);
                CHECK(t, sum == want, "create_group round %d: sum %d, expected %d", round, sum, want);
                MPI_Comm_free(&c);
                MPI_Group_free(&g);
            }
            MPI_Comm d;
            MPI_Request r;
            MPI_Comm_idup(own[t], &d, &r);
            MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, own[t]);
            MPI_Wait(&r, MPI_STATUS_IGNORE);
            MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, d);
            CHECK(t, sum == size * (size - 1) / 2, "idup round %d: sum %d", round, sum);
            MPI_Comm_free(&d);
        }
        MPI_Barrier(own[t]);
    }
    for (int d = 0; d < size; d++) free(sbuf[d]);
    free(sbuf); free(sreq); free(members);
    MPI_Group_free(&g_own);
    return NULL;
}

int main(int argc, char **argv) {
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc > 1) rounds = atoi(argv[1]);
    if (rounds > 99999) rounds = 99999;
    MPI_Comm_dup(MPI_COMM_WORLD, &shared);
    for (int t = 0; t < THREADS; t++) MPI_Comm_dup(MPI_COMM_WORLD, &own[t]);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, work, (void *)(long)t);
    int total = 0;
    long msgs = 0, all = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        total += fails[t];
        msgs += checked[t];
        MPI_Comm_free(&own[t]);
    }
    MPI_Comm_free(&shared);
    MPI_Reduce(&msgs, &all, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) printf("soak: %ld messages checked (%d ranks, %d threads, %d rounds)\n", all, size, THREADS, rounds);
    if (total == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return 0;
}
