/* MPI_THREAD_MULTIPLE: four threads per rank make communicators at once, each
 * from its own duplicate of MPI_COMM_WORLD (MPI_Comm_create, MPI_Comm_create_group
 * among a subset that changes every round, MPI_Comm_idup, MPI_Comm_split), then
 * run collectives on them and check the results; 100 rounds. Context-id
 * agreement must hold for any interleaving of the threads. */
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 4
static int ROUNDS = 100;

static int rank, size;
static int fails[THREADS];
static MPI_Comm parents[THREADS];

#define CHECK(t, c, ...) do { if (!(c)) { fails[t]++; printf("rank %d thread %d: FAIL line %d: ", rank, t, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

/* The sum of the world ranks of `c`'s members, by allreduce, against the
 * expected sum. */
static void check_sum(int t, MPI_Comm c, int expect, const char *what, int round) {
    int sum = -1;
    MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, c);
    CHECK(t, sum == expect, "round %d %s: sum %d, expected %d", round, what, sum, expect);
    MPI_Barrier(c);
}

static void *work(void *arg) {
    int t = (int)(long)arg;
    MPI_Comm parent = parents[t];
    MPI_Group world;
    MPI_Comm_group(parent, &world);
    int *members = malloc(size * sizeof(int));
    unsigned seed = 1000 * t + 1;
    for (int round = 0; round < ROUNDS; round++) {
        /* create: everyone but one rank (every rank calls; the left-out one gets NULL) */
        int out = round % size, n = 0, sum = 0;
        for (int r = 0; r < size; r++)
            if (r != out || size == 1) { members[n++] = r; sum += r; }
        MPI_Group g;
        MPI_Group_incl(world, n, members, &g);
        MPI_Comm c;
        MPI_Comm_create(parent, g, &c);
        CHECK(t, (c == MPI_COMM_NULL) == (rank == out && size > 1), "round %d create: null %d", round, c == MPI_COMM_NULL);
        if (c != MPI_COMM_NULL) {
            check_sum(t, c, sum, "create", round);
            MPI_Comm_free(&c);
        }
        MPI_Group_free(&g);

        /* create_group: a random subset, the same on every rank (same seed) */
        n = 0; sum = 0;
        int in = 0;
        for (int r = 0; r < size; r++)
            if (rand_r(&seed) % 3 != 0) { members[n++] = r; sum += r; in |= r == rank; }
        if (in) {
            MPI_Group_incl(world, n, members, &g);
            MPI_Comm_create_group(parent, g, t, &c);
            check_sum(t, c, sum, "create_group", round);
            MPI_Comm_free(&c);
            MPI_Group_free(&g);
        }

        /* idup, with a collective on the parent while it is in flight */
        MPI_Request r;
        int psum = 0;
        MPI_Comm_idup(parent, &c, &r);
        MPI_Allreduce(&rank, &psum, 1, MPI_INT, MPI_SUM, parent);
        CHECK(t, psum == size * (size - 1) / 2, "round %d parent allreduce beside idup: %d", round, psum);
        MPI_Wait(&r, MPI_STATUS_IGNORE);
        check_sum(t, c, size * (size - 1) / 2, "idup", round);

        /* split of the idup'd communicator: odd and even ranks */
        MPI_Comm s;
        MPI_Comm_split(c, rank % 2, rank, &s);
        sum = 0;
        for (int x = rank % 2; x < size; x += 2) sum += x;
        check_sum(t, s, sum, "split", round);
        MPI_Comm_free(&s);
        MPI_Comm_free(&c);
    }
    free(members);
    MPI_Group_free(&world);
    return NULL;
}

int main(int argc, char **argv) {
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc > 1) ROUNDS = atoi(argv[1]);
    if (provided != MPI_THREAD_MULTIPLE) {
        printf("rank %d: FAIL: MPI_THREAD_MULTIPLE not provided (%d)\n", rank, provided);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (int t = 0; t < THREADS; t++)
        MPI_Comm_dup(MPI_COMM_WORLD, &parents[t]);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, work, (void *)(long)t);
    int total = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        total += fails[t];
        MPI_Comm_free(&parents[t]);
    }
    if (total == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return 0;
}
