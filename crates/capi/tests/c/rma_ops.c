/* One-sided communication: every operation under every synchronization mode.
 *
 * Operations (each to its own region of the target's window, origin rank o using
 * slot o of the region, K ints per slot): MPI_Put, MPI_Get, MPI_Accumulate with
 * SUM, REPLACE, MAX, BAND, MPI_Get_accumulate with SUM, NO_OP, REPLACE,
 * MPI_Fetch_and_op with SUM, NO_OP, REPLACE, MPI_Compare_and_swap (one that
 * matches, one that does not), and in passive-target modes the request forms
 * MPI_Rput, MPI_Rget, MPI_Raccumulate, MPI_Rget_accumulate completed with
 * MPI_Waitall inside the epoch (their origin buffers are overwritten right after).
 *
 * Modes: fence; post/start/complete/wait; the same with an MPI_Win_test loop for
 * the wait; lock/unlock SHARED; lock/unlock EXCLUSIVE; lock_all/unlock_all;
 * lock_all with MPI_Win_flush (after it an MPI_Get must see the operations at the
 * target), MPI_Win_flush_all (the same), MPI_Win_flush_local and
 * MPI_Win_flush_local_all (after it the results of the fetching operations are
 * there and the origin buffers may be overwritten before unlock_all).
 *
 * Patterns: ring (rank r targets r+1 mod n) and all-to-one (every rank targets 0).
 * Plus MPI_Win_sync: local stores to one's own window made visible to MPI_Get of
 * the neighbours, and MPI_Put of a neighbour made visible to local loads.
 *
 * All of it on a window from MPI_Win_allocate, then on one from MPI_Win_create over
 * malloc'd memory. Rank 0 prints one line per (window, mode, pattern); a wrong
 * value is printed by the rank that sees it with window, mode, pattern, operation
 * and element; exit 1 then. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K 4 /* ints per slot */

enum {
    OP_PUT, OP_GET, OP_ACC_SUM, OP_ACC_REPLACE, OP_ACC_MAX, OP_ACC_BAND,
    OP_GACC_SUM, OP_GACC_NOOP, OP_GACC_REPLACE, OP_FOP_SUM, OP_FOP_NOOP,
    OP_FOP_REPLACE, OP_CAS, OP_RPUT, OP_RGET, OP_RACC_SUM, OP_RGACC_SUM, NOPS
};
static const char *op_name[NOPS] = {
    "put", "get", "acc_sum", "acc_replace", "acc_max", "acc_band",
    "get_acc_sum", "get_acc_no_op", "get_acc_replace", "fop_sum", "fop_no_op",
    "fop_replace", "cas", "rput", "rget", "racc_sum", "rget_acc_sum"};

enum { M_FENCE, M_PSCW, M_PSCW_TEST, M_LOCK_SHARED, M_LOCK_EXCL, M_LOCK_ALL,
       M_FLUSH, M_FLUSH_ALL, M_FLUSH_LOCAL, M_FLUSH_LOCAL_ALL, NMODES };
static const char *mode_name[NMODES] = {
    "fence", "pscw", "pscw_test", "lock_shared", "lock_exclusive", "lock_all",
    "flush", "flush_all", "flush_local", "flush_local_all"};

static int rank, size, fails;
static int *base; /* this rank's window memory: NOPS regions of size slots of K ints */
static MPI_Win win;
static const char *flavor; /* "allocate" or "create" */

static int is_request_op(int op) { return op >= OP_RPUT; }
static int is_passive(int m) { return m >= M_LOCK_SHARED; }

/* Target t's initial value at window index i. */
static int T(int t, int i) { return 1000 * t + i + 1; }
static int idx(int op, int o, int j) { return (op * size + o) * K + j; }

/* Origin o's operand for target t, operation op, element j. */
static int V(int o, int t, int op, int j) {
    int tv = T(t, idx(op, o, j));
    if (op == OP_ACC_MAX) return j % 2 ? tv - 5 - o : tv + 5 + o;
    if (op == OP_ACC_BAND) return 0x5a5a ^ (o << j) ^ (op << 3);
    return 20000 + 97 * o + 13 * op + 3 * j;
}

/* What the target holds at (op, o, j) after origin o's operation; *res (the
 * origin's result buffer) when the operation fetches, else *res untouched. */
static int expect(int op, int o, int t, int j, int *res) {
    int tv = T(t, idx(op, o, j)), v = V(o, t, op, j);
    switch (op) {
    case OP_PUT: case OP_RPUT: case OP_ACC_REPLACE: return v;
    case OP_GET: case OP_RGET: *res = tv; return tv;
    case OP_ACC_SUM: case OP_RACC_SUM: return tv + v;
    case OP_ACC_MAX: return tv > v ? tv : v;
    case OP_ACC_BAND: return tv & v;
    case OP_GACC_SUM: case OP_RGACC_SUM: *res = tv; return tv + v;
    case OP_GACC_NOOP: *res = tv; return tv;
    case OP_GACC_REPLACE: *res = tv; return v;
    case OP_FOP_SUM: if (j) return tv; *res = tv; return tv + v;
    case OP_FOP_NOOP: if (j) return tv; *res = tv; return tv;
    case OP_FOP_REPLACE: if (j) return tv; *res = tv; return v;
    case OP_CAS: /* element 0: compare matches; element 1: it does not */
        if (j > 1) return tv;
        *res = tv;
        return j == 0 ? v : tv;
    }
    return tv;
}

static int fetches(int op) {
    return op == OP_GET || op == OP_RGET || (op >= OP_GACC_SUM && op <= OP_CAS) || op == OP_RGACC_SUM;
}

/* Element j of op's slot is read back into a result buffer. */
static int has_result(int op, int j) {
    if (!fetches(op)) return 0;
    if (op >= OP_FOP_SUM && op <= OP_FOP_REPLACE) return j == 0;
    if (op == OP_CAS) return j <= 1;
    return 1;
}

static int src[NOPS][K], res[NOPS][K], cmp[K];

static void fail(const char *what, int m, int pat, int op, int j, int got, int want) {
    fails++;
    printf("rank %d: FAIL %s %s %s %s: %s element %d is %d, expected %d\n", rank, flavor, mode_name[m],
           pat ? "all_to_one" : "ring", op >= 0 ? op_name[op] : "-", what, j, got, want);
}

/* Every rank sets its window to the initial values (a lock on itself). */
static void reset(void) {
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, rank, 0, win);
    for (int i = 0; i < NOPS * size * K; i++) base[i] = T(rank, i);
    MPI_Win_unlock(rank, win);
    MPI_Barrier(MPI_COMM_WORLD);
}

/* Issue op to target t; reqs gets the request of a request-based op. */
static void issue(int op, int t, MPI_Request *req) {
    MPI_Aint d = idx(op, rank, 0);
    for (int j = 0; j < K; j++) {
        src[op][j] = V(rank, t, op, j);
        res[op][j] = -77;
    }
    switch (op) {
    case OP_PUT: MPI_Put(src[op], K, MPI_INT, t, d, K, MPI_INT, win); break;
    case OP_GET: MPI_Get(res[op], K, MPI_INT, t, d, K, MPI_INT, win); break;
    case OP_ACC_SUM: MPI_Accumulate(src[op], K, MPI_INT, t, d, K, MPI_INT, MPI_SUM, win); break;
    case OP_ACC_REPLACE: MPI_Accumulate(src[op], K, MPI_INT, t, d, K, MPI_INT, MPI_REPLACE, win); break;
    case OP_ACC_MAX: MPI_Accumulate(src[op], K, MPI_INT, t, d, K, MPI_INT, MPI_MAX, win); break;
    case OP_ACC_BAND: MPI_Accumulate(src[op], K, MPI_INT, t, d, K, MPI_INT, MPI_BAND, win); break;
    case OP_GACC_SUM:
        MPI_Get_accumulate(src[op], K, MPI_INT, res[op], K, MPI_INT, t, d, K, MPI_INT, MPI_SUM, win);
        break;
    case OP_GACC_NOOP: /* the origin buffer is ignored: pass NULL and count 0 */
        MPI_Get_accumulate(NULL, 0, MPI_INT, res[op], K, MPI_INT, t, d, K, MPI_INT, MPI_NO_OP, win);
        break;
    case OP_GACC_REPLACE:
        MPI_Get_accumulate(src[op], K, MPI_INT, res[op], K, MPI_INT, t, d, K, MPI_INT, MPI_REPLACE, win);
        break;
    case OP_FOP_SUM: MPI_Fetch_and_op(src[op], res[op], MPI_INT, t, d, MPI_SUM, win); break;
    case OP_FOP_NOOP: MPI_Fetch_and_op(NULL, res[op], MPI_INT, t, d, MPI_NO_OP, win); break;
    case OP_FOP_REPLACE: MPI_Fetch_and_op(src[op], res[op], MPI_INT, t, d, MPI_REPLACE, win); break;
    case OP_CAS:
        cmp[0] = T(t, d);
        cmp[1] = T(t, d + 1) + 1;
        MPI_Compare_and_swap(&src[op][0], &cmp[0], &res[op][0], MPI_INT, t, d, win);
        MPI_Compare_and_swap(&src[op][1], &cmp[1], &res[op][1], MPI_INT, t, d + 1, win);
        break;
    case OP_RPUT: MPI_Rput(src[op], K, MPI_INT, t, d, K, MPI_INT, win, req); break;
    case OP_RGET: MPI_Rget(res[op], K, MPI_INT, t, d, K, MPI_INT, win, req); break;
    case OP_RACC_SUM: MPI_Raccumulate(src[op], K, MPI_INT, t, d, K, MPI_INT, MPI_SUM, win, req); break;
    case OP_RGACC_SUM:
        MPI_Rget_accumulate(src[op], K, MPI_INT, res[op], K, MPI_INT, t, d, K, MPI_INT, MPI_SUM, win, req);
        break;
    }
}

static void check_results(int m, int pat, int t, const char *when) {
    for (int op = 0; op < NOPS; op++) {
        if (is_request_op(op) && !is_passive(m)) continue;
        for (int j = 0; j < K; j++) {
            if (!has_result(op, j)) continue;
            int want = 0;
            expect(op, rank, t, j, &want);
            if (res[op][j] != want) fail(when, m, pat, op, j, res[op][j], want);
        }
    }
}

/* The target's window values expected in this rank's slots, read back with MPI_Get
 * completed by MPI_Win_flush(t) in both flush modes: MPICH 4.0.2's MPI_Win_flush_all
 * now and then (all-to-one on 4 or more ranks) returns before such a second round
 * of MPI_Get has written the origin buffers. That flush_all completes the fetching
 * operations is checked on the first round's results all the same. */
static void check_remote(int m, int pat, int t) {
    int back[NOPS][K];
    for (int op = 0; op < NOPS; op++) {
        if (is_request_op(op) && !is_passive(m)) continue;
        MPI_Get(back[op], K, MPI_INT, t, idx(op, rank, 0), K, MPI_INT, win);
    }
    MPI_Win_flush(t, win);
    for (int op = 0; op < NOPS; op++) {
        if (is_request_op(op) && !is_passive(m)) continue;
        for (int j = 0; j < K; j++) {
            int r, want = expect(op, rank, t, j, &r);
            if (back[op][j] != want) fail("get after flush: target", m, pat, op, j, back[op][j], want);
        }
    }
}

/* After the epochs: every rank checks its own window. */
static void check_window(int m, int pat) {
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, rank, 0, win);
    for (int op = 0; op < NOPS; op++) {
        for (int o = 0; o < size; o++) {
            int targets_me = pat ? rank == 0 : (o + 1) % size == rank;
            int done = targets_me && (!is_request_op(op) || is_passive(m));
            for (int j = 0; j < K; j++) {
                int r, i = idx(op, o, j);
                int want = done ? expect(op, o, rank, j, &r) : T(rank, i);
                if (base[i] != want) {
                    char what[64];
                    snprintf(what, sizeof what, "target of rank %d:", o);
                    fail(what, m, pat, op, j, base[i], want);
                }
            }
        }
    }
    MPI_Win_unlock(rank, win);
}

static void run_case(int m, int pat) {
    int t = pat ? 0 : (rank + 1) % size;
    int prev = (rank - 1 + size) % size;
    int before = fails;
    MPI_Group world, to, from = MPI_GROUP_NULL;
    reset();
    MPI_Comm_group(MPI_COMM_WORLD, &world);
    MPI_Group_incl(world, 1, &t, &to);
    if (pat) {
        if (rank == 0) from = world;
    } else {
        MPI_Group_incl(world, 1, &prev, &from);
    }

    switch (m) {
    case M_FENCE: MPI_Win_fence(MPI_MODE_NOPRECEDE, win); break;
    case M_PSCW: case M_PSCW_TEST:
        if (from != MPI_GROUP_NULL) MPI_Win_post(from, 0, win);
        MPI_Win_start(to, 0, win);
        break;
    case M_LOCK_SHARED: MPI_Win_lock(MPI_LOCK_SHARED, t, 0, win); break;
    case M_LOCK_EXCL: MPI_Win_lock(MPI_LOCK_EXCLUSIVE, t, 0, win); break;
    default: MPI_Win_lock_all(0, win); break;
    }

    MPI_Request reqs[NOPS];
    int nreq = 0;
    for (int op = 0; op < NOPS; op++) {
        if (is_request_op(op) && !is_passive(m)) continue;
        issue(op, t, is_request_op(op) ? &reqs[nreq++] : NULL);
    }
    if (nreq) {
        MPI_Waitall(nreq, reqs, MPI_STATUSES_IGNORE);
        /* local completion: the origin buffers are free again */
        for (int op = OP_RPUT; op < NOPS; op++)
            if (op != OP_RGET)
                for (int j = 0; j < K; j++) src[op][j] = -99;
        for (int j = 0; j < K; j++) {
            int want = 0;
            expect(OP_RGET, rank, t, j, &want);
            if (res[OP_RGET][j] != want) fail("rget after wait: result", m, pat, OP_RGET, j, res[OP_RGET][j], want);
            expect(OP_RGACC_SUM, rank, t, j, &want);
            if (res[OP_RGACC_SUM][j] != want)
                fail("rget_accumulate after wait: result", m, pat, OP_RGACC_SUM, j, res[OP_RGACC_SUM][j], want);
        }
    }

    switch (m) {
    case M_FENCE: MPI_Win_fence(MPI_MODE_NOSUCCEED, win); break;
    case M_PSCW:
        MPI_Win_complete(win);
        if (from != MPI_GROUP_NULL) MPI_Win_wait(win);
        break;
    case M_PSCW_TEST:
        MPI_Win_complete(win);
        if (from != MPI_GROUP_NULL) {
            int flag = 0;
            while (!flag) MPI_Win_test(win, &flag);
        }
        break;
    case M_LOCK_SHARED: case M_LOCK_EXCL: MPI_Win_unlock(t, win); break;
    case M_LOCK_ALL: MPI_Win_unlock_all(win); break;
    case M_FLUSH: case M_FLUSH_ALL:
        if (m == M_FLUSH) MPI_Win_flush(t, win);
        else MPI_Win_flush_all(win);
        check_results(m, pat, t, "after flush: result");
        check_remote(m, pat, t);
        MPI_Win_unlock_all(win);
        break;
    case M_FLUSH_LOCAL: case M_FLUSH_LOCAL_ALL:
        if (m == M_FLUSH_LOCAL) MPI_Win_flush_local(t, win);
        else MPI_Win_flush_local_all(win);
        check_results(m, pat, t, "after flush_local: result");
        /* the origin buffers may be reused: the target must still get the values */
        for (int op = 0; op < NOPS; op++)
            for (int j = 0; j < K; j++) src[op][j] = -55;
        MPI_Win_unlock_all(win);
        break;
    }
    check_results(m, pat, t, "result");
    check_window(m, pat);

    MPI_Group_free(&to);
    if (!pat) MPI_Group_free(&from);
    MPI_Group_free(&world);
    int bad = fails - before, any;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    int nops = is_passive(m) ? NOPS : OP_RPUT;
    if (rank == 0)
        printf("%s %s %s: %d operations %s\n", flavor, mode_name[m], pat ? "all_to_one" : "ring", nops,
               any ? "FAIL" : "ok");
}

/* MPI_Win_sync: local stores made visible to others' MPI_Get, others' MPI_Put
 * made visible to local loads. */
static void win_sync_case(void) {
    int before = fails;
    int next = (rank + 1) % size, prev = (rank - 1 + size) % size;
    reset();
    MPI_Win_lock_all(0, win);
    for (int j = 0; j < K; j++) base[j] = 7000 + 10 * rank + j; /* store into my own window */
    MPI_Win_sync(win);
    MPI_Barrier(MPI_COMM_WORLD);
    int got[K];
    MPI_Get(got, K, MPI_INT, next, 0, K, MPI_INT, win);
    MPI_Win_flush(next, win);
    for (int j = 0; j < K; j++)
        if (got[j] != 7000 + 10 * next + j) fail("get of stored: result", M_LOCK_ALL, 0, -1, j, got[j], 7000 + 10 * next + j);
    MPI_Barrier(MPI_COMM_WORLD);
    /* put into the next rank's slot K..2K; it loads after sync + barrier */
    int val[K];
    for (int j = 0; j < K; j++) val[j] = 8000 + 10 * rank + j;
    MPI_Put(val, K, MPI_INT, next, K, K, MPI_INT, win);
    MPI_Win_flush(next, win);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Win_sync(win);
    for (int j = 0; j < K; j++) {
        volatile int *b = base;
        if (b[K + j] != 8000 + 10 * prev + j) fail("load after put: window", M_LOCK_ALL, 0, -1, j, b[K + j], 8000 + 10 * prev + j);
    }
    MPI_Win_unlock_all(win);
    int bad = fails - before, any;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("%s win_sync ring: store/get and put/load %s\n", flavor, any ? "FAIL" : "ok");
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Aint bytes = (MPI_Aint)(NOPS * size * K * sizeof(int));
    /* the whole matrix on memory MPI allocates, then on the program's own memory */
    for (int f = 0; f < 2; f++) {
        int *mine = NULL;
        if (f == 0) {
            flavor = "allocate";
            MPI_Win_allocate(bytes, sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win);
        } else {
            flavor = "create";
            base = mine = malloc(bytes);
            MPI_Win_create(base, bytes, sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &win);
        }
        for (int m = 0; m < NMODES; m++)
            for (int pat = 0; pat < 2; pat++) run_case(m, pat);
        win_sync_case();
        MPI_Win_free(&win);
        free(mine);
    }
    int any;
    MPI_Allreduce(&fails, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    printf("rank %d of %d: %s\n", rank, size, any ? "FAIL" : "PASS");
    MPI_Finalize();
    return fails ? 1 : 0;
}
