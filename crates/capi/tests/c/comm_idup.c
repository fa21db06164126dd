/* MPI_Comm_idup is nonblocking: programs that are valid only if it is.
 * Each part would deadlock or mismatch with an idup that completes inside the
 * call. 2 or more ranks; every new communicator is checked with a collective
 * and a ring exchange. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size, fails = 0;

static int copy_fails(MPI_Comm c, int k, void *extra, void *in, void *out, int *flag) {
    (void)c; (void)k; (void)extra; (void)in; (void)out; (void)flag;
    return MPI_ERR_OTHER;
}
#define CHECK(c, ...) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: ", rank, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

/* An intracommunicator works: the sum of world ranks and a ring exchange. */
static void test_intra(MPI_Comm c, const char *what) {
    int n, me, wr, sum = 0, expect = 0, *all;
    MPI_Comm_size(c, &n);
    MPI_Comm_rank(c, &me);
    all = malloc(n * sizeof(int));
    MPI_Allgather(&rank, 1, MPI_INT, all, 1, MPI_INT, c);
    for (int i = 0; i < n; i++) expect += all[i];
    MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, c);
    CHECK(sum == expect, "%s: allreduce %d, expected %d", what, sum, expect);
    int from = -1;
    MPI_Sendrecv(&rank, 1, MPI_INT, (me + 1) % n, 7, &from, 1, MPI_INT, (me + n - 1) % n, 7, c, MPI_STATUS_IGNORE);
    wr = all[(me + n - 1) % n];
    CHECK(from == wr, "%s: ring got %d, expected %d", what, from, wr);
    free(all);
}

/* An intercommunicator works: the leaders swap world ranks. */
static void test_inter(MPI_Comm c, const char *what) {
    int me, rsize, theirs = -1, mine = rank;
    MPI_Comm_rank(c, &me);
    MPI_Comm_remote_size(c, &rsize);
    if (me == 0) {
        MPI_Sendrecv(&mine, 1, MPI_INT, 0, 3, &theirs, 1, MPI_INT, 0, 3, c, MPI_STATUS_IGNORE);
        CHECK(theirs >= 0 && theirs < size, "%s: remote leader said %d", what, theirs);
    }
    CHECK(rsize > 0, "%s: remote size %d", what, rsize);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Group world_group;
    MPI_Comm_group(MPI_COMM_WORLD, &world_group);

    /* 1. idup, then point-to-point on the parent in an order that needs the
     * idup to have returned: rank 0 idups and then sends a large message that
     * rank 1 receives before it calls idup. */
    {
        int n = 1 << 18;
        char *buf = malloc(n);
        MPI_Comm nc;
        MPI_Request r;
        if (rank == 0) {
            memset(buf, 5, n);
            MPI_Comm_idup(MPI_COMM_WORLD, &nc, &r);
            MPI_Send(buf, n, MPI_CHAR, 1, 1, MPI_COMM_WORLD);
        } else {
            if (rank == 1) {
                MPI_Recv(buf, n, MPI_CHAR, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                CHECK(buf[0] == 5 && buf[n - 1] == 5, "large message");
            }
            MPI_Comm_idup(MPI_COMM_WORLD, &nc, &r);
        }
        MPI_Wait(&r, MPI_STATUS_IGNORE);
        test_intra(nc, "idup before a send");
        MPI_Comm_free(&nc);
        free(buf);
    }

    /* 2. Isends and idups interleaved, in different orders on different ranks
     * (rank 0: sends then idup; the others: idup then receive), four times. */
    {
        enum { IT = 4 };
        MPI_Comm nc[IT];
        MPI_Request *rq = malloc(sizeof(MPI_Request) * (size + 1) * IT);
        int out = 815, in[IT], cnt = 0;
        for (int j = 0; j < IT; j++) {
            in[j] = 0;
            if (rank == 0) {
                for (int i = 1; i < size; i++)
                    MPI_Isend(&out, 1, MPI_INT, i, 0, MPI_COMM_WORLD, &rq[cnt++]);
                MPI_Comm_idup(MPI_COMM_WORLD, &nc[j], &rq[cnt++]);
            } else {
                MPI_Comm_idup(MPI_COMM_WORLD, &nc[j], &rq[cnt++]);
                MPI_Irecv(&in[j], 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &rq[cnt++]);
            }
        }
        MPI_Waitall(cnt, rq, MPI_STATUSES_IGNORE);
        for (int j = 0; j < IT; j++) {
            CHECK(rank == 0 || in[j] == 815, "isend %d got %d", j, in[j]);
            test_intra(nc[j], "idup among isends");
            MPI_Comm_free(&nc[j]);
        }
        free(rq);
    }

    /* 3. idup with a nonblocking collective on the parent in flight. */
    {
        MPI_Comm nc;
        MPI_Request r[2];
        int sum = 0;
        MPI_Comm_idup(MPI_COMM_WORLD, &nc, &r[0]);
        MPI_Iallreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &r[1]);
        MPI_Waitall(2, r, MPI_STATUSES_IGNORE);
        CHECK(sum == size * (size - 1) / 2, "iallreduce beside idup: %d", sum);
        test_intra(nc, "idup beside iallreduce");
        MPI_Comm_free(&nc);
    }

    /* 4. Five idups pending while the blocking constructors run on the parent. */
    {
        enum { N = 5 };
        MPI_Comm nc[N], out, local, inter;
        MPI_Request r[N];
        for (int i = 0; i < N; i++)
            MPI_Comm_idup(MPI_COMM_WORLD, &nc[i], &r[i]);
        MPI_Comm_dup(MPI_COMM_WORLD, &out);
        test_intra(out, "dup beside idups");
        MPI_Comm_free(&out);
        MPI_Comm_split(MPI_COMM_WORLD, rank % 2, size - rank, &out);
        test_intra(out, "split beside idups");
        MPI_Comm_free(&out);
        int range[1][3] = {{size / 2, size - 1, 1}};
        MPI_Group high, even;
        MPI_Group_range_incl(world_group, 1, range, &high);
        MPI_Comm_create(MPI_COMM_WORLD, high, &out);
        if (out != MPI_COMM_NULL) {
            test_intra(out, "create beside idups");
            MPI_Comm_free(&out);
        }
        MPI_Group_free(&high);
        int erange[1][3] = {{0, size - 1, 2}};
        MPI_Group_range_incl(world_group, 1, erange, &even);
        if (rank % 2 == 0) {
            MPI_Comm_create_group(MPI_COMM_WORLD, even, 0, &out);
            test_intra(out, "create_group beside idups");
            MPI_Comm_free(&out);
        }
        MPI_Group_free(&even);
        MPI_Comm_split(MPI_COMM_WORLD, rank < size / 2, rank, &local);
        int rleader = rank == 0 ? size / 2 : rank == size / 2 ? 0 : -1;
        MPI_Intercomm_create(local, 0, MPI_COMM_WORLD, rleader, 99, &inter);
        test_inter(inter, "intercomm_create beside idups");
        MPI_Intercomm_merge(inter, rank < size / 2, &out);
        test_intra(out, "merge beside idups");
        MPI_Comm_free(&out);
        MPI_Comm_free(&local);

        /* 5. idup of the intercommunicator. */
        MPI_Comm idi;
        MPI_Request ri;
        MPI_Comm_idup(inter, &idi, &ri);
        MPI_Wait(&ri, MPI_STATUS_IGNORE);
        test_inter(idi, "idup of an intercommunicator");
        MPI_Comm_free(&idi);
        MPI_Comm_free(&inter);

        MPI_Waitall(N, r, MPI_STATUSES_IGNORE);
        for (int i = 0; i < N; i++) {
            test_intra(nc[i], "idups beside the constructors");
            MPI_Comm_free(&nc[i]);
        }
    }

    /* 6. Overlapping idups: each rank idups its communicator with the next
     * rank, then the one with the previous rank; a blocking dup would wait in
     * a cycle. */
    {
        MPI_Comm primary[2] = {MPI_COMM_NULL, MPI_COMM_NULL}, secondary[2] = {MPI_COMM_NULL, MPI_COMM_NULL}, tmp;
        MPI_Request r[2];
        for (int i = 0; i < size; i++) {
            if (rank == i)
                MPI_Comm_split(MPI_COMM_WORLD, 0, 0, &primary[0]);
            else if (rank == (i + 1) % size)
                MPI_Comm_split(MPI_COMM_WORLD, 0, 0, &secondary[0]);
            else {
                MPI_Comm_split(MPI_COMM_WORLD, 1, 0, &tmp);
                MPI_Comm_free(&tmp);
            }
        }
        MPI_Comm_idup(primary[0], &primary[1], &r[0]);
        MPI_Comm_idup(secondary[0], &secondary[1], &r[1]);
        MPI_Waitall(2, r, MPI_STATUSES_IGNORE);
        /* Each pair's communicators checked at once (blocking checks one after
         * the other would wait in a cycle too). */
        int sums[2] = {0, 0};
        MPI_Iallreduce(&rank, &sums[0], 1, MPI_INT, MPI_SUM, primary[1], &r[0]);
        MPI_Iallreduce(&rank, &sums[1], 1, MPI_INT, MPI_SUM, secondary[1], &r[1]);
        MPI_Waitall(2, r, MPI_STATUSES_IGNORE);
        CHECK(sums[0] == rank + (rank + 1) % size, "overlapping idup (primary): %d", sums[0]);
        CHECK(sums[1] == rank + (rank + size - 1) % size, "overlapping idup (secondary): %d", sums[1]);
        for (int i = 0; i < 2; i++) {
            MPI_Comm_free(&primary[i]);
            MPI_Comm_free(&secondary[i]);
        }
    }

    /* 7. create_group and idup in opposite orders on even and odd ranks. */
    {
        MPI_Comm gc, ic;
        MPI_Request r;
        if (rank % 2 == 0) {
            MPI_Comm_create_group(MPI_COMM_WORLD, world_group, 0, &gc);
            MPI_Comm_idup(MPI_COMM_WORLD, &ic, &r);
        } else {
            MPI_Comm_idup(MPI_COMM_WORLD, &ic, &r);
            MPI_Comm_create_group(MPI_COMM_WORLD, world_group, 0, &gc);
        }
        MPI_Wait(&r, MPI_STATUS_IGNORE);
        test_intra(ic, "idup across create_group");
        test_intra(gc, "create_group across idup");
        MPI_Comm_free(&ic);
        MPI_Comm_free(&gc);
    }

    /* 8. The new handle is refused until its request completes; freeing the
     * request still gives a usable communicator once it is done. */
    {
        MPI_Comm nc, nc2;
        MPI_Request r, r2;
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_idup(MPI_COMM_WORLD, &nc, &r);
        MPI_Comm_idup(MPI_COMM_WORLD, &nc2, &r2);
        int n = -1, rc = MPI_Comm_size(nc, &n), cls = MPI_SUCCESS;
        int flag = 0;
        MPI_Test(&r, &flag, MPI_STATUS_IGNORE);
        if (!flag) {
            MPI_Error_class(rc, &cls);
            CHECK(cls == MPI_ERR_COMM, "MPI_Comm_size on a pending idup handle: class %d", cls);
            MPI_Wait(&r, MPI_STATUS_IGNORE);
        }
        MPI_Request_free(&r2);
        MPI_Barrier(MPI_COMM_WORLD);
        test_intra(nc, "idup after the pending-handle check");
        MPI_Comm_free(&nc);
        /* nc2's agreement completes in the progress of the calls above and
         * below; its handle is made usable by a later completion call (vmpi
         * installs freed idups in the wait/test family, docs/c-abi.md). */
        MPI_Barrier(MPI_COMM_WORLD);
        int ok = 0;
        for (int tries = 0; tries < 100000 && !ok; tries++) {
            int s2, f;
            MPI_Request none = MPI_REQUEST_NULL;
            MPI_Test(&none, &f, MPI_STATUS_IGNORE);
            ok = MPI_Comm_size(nc2, &s2) == MPI_SUCCESS;
        }
        CHECK(ok, "a freed idup request never made its communicator usable");
        if (ok) {
            test_intra(nc2, "idup with a freed request");
            MPI_Comm_free(&nc2);
        }
    }

    /* 9. A copy callback that fails: MPI_Comm_idup returns its error on every
     * rank, and the agreement it started still ends (the next idup works). */
    {
        int key;
        MPI_Comm nc = MPI_COMM_NULL, nc2;
        MPI_Request r = MPI_REQUEST_NULL;
        MPI_Comm_create_keyval(copy_fails, MPI_COMM_NULL_DELETE_FN, &key, NULL);
        MPI_Comm_set_attr(MPI_COMM_WORLD, key, &key);
        int rc = MPI_Comm_idup(MPI_COMM_WORLD, &nc, &r);
        CHECK(rc != MPI_SUCCESS, "idup with a failing copy callback succeeded");
        MPI_Comm_delete_attr(MPI_COMM_WORLD, key);
        MPI_Comm_free_keyval(&key);
        MPI_Comm_idup(MPI_COMM_WORLD, &nc2, &r);
        MPI_Wait(&r, MPI_STATUS_IGNORE);
        test_intra(nc2, "idup after a failed one");
        MPI_Comm_free(&nc2);
    }

    MPI_Group_free(&world_group);
    if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return 0;
}
