/* Exercises every family the C interface has now, on any number of ranks; each
 * rank prints "rank R of N: PASS" or "FAIL <line>: <what>" and aborts. Built with
 * vmpi's mpicc and with MPICH's mpicc.mpich (the ABI proof), same results. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size;
#define CHECK(c) do { if (!(c)) { printf("FAIL %d: %s (rank %d)\n", __LINE__, #c, rank); fflush(stdout); MPI_Abort(MPI_COMM_WORLD, 2); } } while (0)
#define OK(call) CHECK((call) == MPI_SUCCESS)

static int handler_calls, handler_code;
static void my_handler(MPI_Comm *comm, int *code, ...) { (void)comm; handler_calls++; handler_code = *code; }
static int deleted;
static int del_fn(MPI_Comm c, int k, void *v, void *x) { (void)c; (void)k; (void)x; deleted += *(int *)v; return MPI_SUCCESS; }
static int greq_done, greq_freed;
static int q_fn(void *x, MPI_Status *s) { (void)x; MPI_Status_set_elements(s, MPI_BYTE, 7); MPI_Status_set_cancelled(s, 0); s->MPI_SOURCE = 0; s->MPI_TAG = 0; greq_done++; return MPI_SUCCESS; }
static int f_fn(void *x) { (void)x; greq_freed++; return MPI_SUCCESS; }
static int c_fn(void *x, int done) { (void)x; (void)done; return MPI_SUCCESS; }

static void environment(void) {
    int flag, v, sv, len, prov;
    char name[MPI_MAX_PROCESSOR_NAME], lib[MPI_MAX_LIBRARY_VERSION_STRING];
    OK(MPI_Initialized(&flag)); CHECK(flag == 1);
    OK(MPI_Finalized(&flag)); CHECK(flag == 0);
    OK(MPI_Get_version(&v, &sv)); CHECK(v == 3 && sv == 1);
    OK(MPI_Get_library_version(lib, &len)); CHECK(len > 0 && (int)strlen(lib) == len);
    OK(MPI_Get_processor_name(name, &len)); CHECK(len > 0);
    OK(MPI_Query_thread(&prov)); CHECK(prov == MPI_THREAD_MULTIPLE);
    OK(MPI_Is_thread_main(&flag)); CHECK(flag == 1);
    double t0 = MPI_Wtime(), t1 = MPI_Wtime();
    CHECK(t1 >= t0 && MPI_Wtick() > 0 && MPI_Wtick() < 1);
    OK(MPI_Pcontrol(1));
    int dims[3] = {0, 0, 0};
    OK(MPI_Dims_create(12, 3, dims)); CHECK(dims[0] == 3 && dims[1] == 2 && dims[2] == 2);
    int d2[2] = {0, 0};
    OK(MPI_Dims_create(size, 2, d2)); CHECK(d2[0] * d2[1] == size && d2[0] >= d2[1]);
    char a[10]; MPI_Aint p1, p2;
    OK(MPI_Get_address(&a[2], &p1)); OK(MPI_Get_address(&a[7], &p2));
    CHECK(MPI_Aint_diff(p2, p1) == 5 && MPI_Aint_add(p1, 5) == p2);
    CHECK(MPI_Comm_c2f(MPI_COMM_WORLD) == (MPI_Fint)MPI_COMM_WORLD);
    CHECK(MPI_Type_f2c(MPI_Type_c2f(MPI_INT)) == MPI_INT);
}

static void info(void) {
    MPI_Info i, j; int n, flag, vlen; char v[64], k[MPI_MAX_INFO_KEY + 1];
    OK(MPI_Info_create(&i));
    OK(MPI_Info_set(i, "alpha", "1")); OK(MPI_Info_set(i, "beta", "two")); OK(MPI_Info_set(i, "alpha", "one"));
    OK(MPI_Info_get_nkeys(i, &n)); CHECK(n == 2);
    OK(MPI_Info_get_nthkey(i, 1, k)); CHECK(strcmp(k, "beta") == 0);
    OK(MPI_Info_get(i, "alpha", 63, v, &flag)); CHECK(flag && strcmp(v, "one") == 0);
    OK(MPI_Info_get(i, "alpha", 2, v, &flag)); CHECK(flag && strcmp(v, "on") == 0);
    OK(MPI_Info_get_valuelen(i, "beta", &vlen, &flag)); CHECK(flag && vlen == 3);
    OK(MPI_Info_get(i, "gamma", 63, v, &flag)); CHECK(!flag);
    OK(MPI_Info_dup(i, &j)); OK(MPI_Info_delete(i, "alpha"));
    OK(MPI_Info_get_nkeys(i, &n)); CHECK(n == 1);
    OK(MPI_Info_get_nkeys(j, &n)); CHECK(n == 2);
    OK(MPI_Info_free(&i)); OK(MPI_Info_free(&j)); CHECK(i == MPI_INFO_NULL);
    OK(MPI_Info_get_nkeys(MPI_INFO_ENV, &n)); CHECK(n >= 1);
    /* errors, returned */
    OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    OK(MPI_Info_create(&i));
    CHECK(MPI_Info_delete(i, "nokey") == MPI_ERR_INFO_NOKEY);
    CHECK(MPI_Info_get_nkeys(MPI_INFO_NULL, &n) == MPI_ERR_INFO);
    char big[300]; memset(big, 'k', 299); big[299] = 0;
    CHECK(MPI_Info_set(i, big, "v") == MPI_ERR_INFO_KEY);
    OK(MPI_Info_free(&i));
    OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL));
}

static void errors(void) {
    MPI_Errhandler eh, got; int cls, len, buf = 0; char s[MPI_MAX_ERROR_STRING];
    OK(MPI_Comm_get_errhandler(MPI_COMM_WORLD, &got)); CHECK(got == MPI_ERRORS_ARE_FATAL);
    OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    CHECK(MPI_Send(&buf, -1, MPI_INT, 0, 0, MPI_COMM_WORLD) == MPI_ERR_COUNT);
    CHECK(MPI_Send(&buf, 1, MPI_INT, size, 0, MPI_COMM_WORLD) == MPI_ERR_RANK);
    CHECK(MPI_Send(&buf, 1, MPI_INT, 0, -5, MPI_COMM_WORLD) == MPI_ERR_TAG);
    CHECK(MPI_Send(&buf, 1, MPI_DATATYPE_NULL, 0, 0, MPI_COMM_WORLD) == MPI_ERR_TYPE);
    CHECK(MPI_Send(NULL, 1, MPI_INT, 0, 0, MPI_COMM_WORLD) == MPI_ERR_BUFFER);
    CHECK(MPI_Send(&buf, 1, MPI_INT, 0, 0, MPI_COMM_NULL) == MPI_ERR_COMM);
    CHECK(MPI_Recv(&buf, 1, MPI_INT, -7, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE) == MPI_ERR_RANK);
    MPI_Request r = 0x12345;
    CHECK(MPI_Wait(&r, MPI_STATUS_IGNORE) == MPI_ERR_REQUEST);
    OK(MPI_Error_class(MPI_ERR_TRUNCATE, &cls)); CHECK(cls == MPI_ERR_TRUNCATE);
    OK(MPI_Error_string(MPI_ERR_RANK, s, &len)); CHECK(len > 0 && (int)strlen(s) == len);
    int newcls, newcode;
    OK(MPI_Add_error_class(&newcls)); OK(MPI_Add_error_code(newcls, &newcode));
    OK(MPI_Add_error_string(newcode, "my own error"));
    OK(MPI_Error_class(newcode, &cls)); CHECK(cls == newcls);
    OK(MPI_Error_string(newcode, s, &len)); CHECK(strcmp(s, "my own error") == 0);
    int *last, flag;
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_LASTUSEDCODE, &last, &flag)); CHECK(flag && *last >= newcode);
    /* a user handler */
    OK(MPI_Comm_create_errhandler(my_handler, &eh));
    OK(MPI_Comm_set_errhandler(MPI_COMM_SELF, eh));
    CHECK(MPI_Send(&buf, 1, MPI_INT, 5, 0, MPI_COMM_SELF) == MPI_ERR_RANK);
    CHECK(handler_calls == 1 && handler_code == MPI_ERR_RANK);
    OK(MPI_Comm_call_errhandler(MPI_COMM_SELF, newcode)); CHECK(handler_calls == 2 && handler_code == newcode);
    OK(MPI_Errhandler_free(&eh)); CHECK(eh == MPI_ERRHANDLER_NULL);
    OK(MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_ARE_FATAL));
    OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL));
}

static void comms_attrs_types(void) {
    int r, n, res, flag, len, *v; char name[MPI_MAX_OBJECT_NAME];
    OK(MPI_Comm_rank(MPI_COMM_SELF, &r)); OK(MPI_Comm_size(MPI_COMM_SELF, &n)); CHECK(r == 0 && n == 1);
    OK(MPI_Comm_compare(MPI_COMM_WORLD, MPI_COMM_WORLD, &res)); CHECK(res == MPI_IDENT);
    OK(MPI_Comm_compare(MPI_COMM_WORLD, MPI_COMM_SELF, &res)); CHECK(res == (size == 1 ? MPI_CONGRUENT : MPI_UNEQUAL));
    OK(MPI_Comm_get_name(MPI_COMM_WORLD, name, &len)); CHECK(strcmp(name, "MPI_COMM_WORLD") == 0 && len == 14);
    OK(MPI_Comm_set_name(MPI_COMM_SELF, "me")); OK(MPI_Comm_get_name(MPI_COMM_SELF, name, &len)); CHECK(strcmp(name, "me") == 0);
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &v, &flag)); CHECK(flag && *v >= 32767);
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_UNIVERSE_SIZE, &v, &flag)); CHECK(flag && *v == size);
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_WTIME_IS_GLOBAL, &v, &flag)); CHECK(flag);
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_HOST, &v, &flag)); CHECK(flag);
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_IO, &v, &flag)); CHECK(flag);
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_APPNUM, &v, &flag));
    int key; static int val1 = 1, val2 = 10; int *got;
    OK(MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, del_fn, &key, NULL));
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, key, &got, &flag)); CHECK(!flag);
    OK(MPI_Comm_set_attr(MPI_COMM_WORLD, key, &val1));
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, key, &got, &flag)); CHECK(flag && got == &val1);
    OK(MPI_Comm_set_attr(MPI_COMM_WORLD, key, &val2)); CHECK(deleted == 1);
    OK(MPI_Comm_delete_attr(MPI_COMM_WORLD, key)); CHECK(deleted == 11);
    OK(MPI_Comm_free_keyval(&key)); CHECK(key == MPI_KEYVAL_INVALID);
    int sz; MPI_Aint lb, ext; MPI_Count szx;
    OK(MPI_Type_size(MPI_DOUBLE, &sz)); CHECK(sz == 8);
    OK(MPI_Type_size(MPI_DOUBLE_INT, &sz)); CHECK(sz == 12);
    OK(MPI_Type_get_extent(MPI_DOUBLE_INT, &lb, &ext)); CHECK(lb == 0 && ext == 16);
    OK(MPI_Type_get_true_extent(MPI_INT, &lb, &ext)); CHECK(lb == 0 && ext == 4);
    OK(MPI_Type_size_x(MPI_C_LONG_DOUBLE_COMPLEX, &szx)); CHECK(szx == 32);
    OK(MPI_Type_get_name(MPI_UNSIGNED_LONG, name, &len)); CHECK(strcmp(name, "MPI_UNSIGNED_LONG") == 0);
}

static void p2p(void) {
    int next = (rank + 1) % size, prev = (rank + size - 1) % size;
    int a[100], b[100], i, flag, cnt; MPI_Status st; MPI_Request rq[4];
    for (i = 0; i < 100; i++) a[i] = rank * 1000 + i;
    /* each mode, blocking, around the ring */
    MPI_Request rr; memset(b, 0, sizeof b);
    OK(MPI_Irecv(b, 100, MPI_INT, prev, 1, MPI_COMM_WORLD, &rr));
    OK(MPI_Send(a, 100, MPI_INT, next, 1, MPI_COMM_WORLD));
    OK(MPI_Wait(&rr, &st)); CHECK(rr == MPI_REQUEST_NULL);
    CHECK(b[99] == prev * 1000 + 99 && st.MPI_SOURCE == prev && st.MPI_TAG == 1);
    OK(MPI_Get_count(&st, MPI_INT, &cnt)); CHECK(cnt == 100);
    OK(MPI_Get_count(&st, MPI_DOUBLE, &cnt)); CHECK(cnt == 50);
    OK(MPI_Get_elements(&st, MPI_INT, &cnt)); CHECK(cnt == 100);
    OK(MPI_Irecv(b, 100, MPI_INT, prev, 2, MPI_COMM_WORLD, &rr));
    OK(MPI_Ssend(a, 10, MPI_INT, next, 2, MPI_COMM_WORLD));
    OK(MPI_Wait(&rr, &st)); OK(MPI_Get_count(&st, MPI_INT, &cnt)); CHECK(cnt == 10);
    OK(MPI_Irecv(b, 100, MPI_INT, prev, 3, MPI_COMM_WORLD, &rr));
    OK(MPI_Barrier(MPI_COMM_WORLD)); /* the receive is posted everywhere: ready mode is legal */
    OK(MPI_Rsend(a, 3, MPI_INT, next, 3, MPI_COMM_WORLD));
    OK(MPI_Wait(&rr, MPI_STATUS_IGNORE)); CHECK(b[2] == prev * 1000 + 2);
    /* buffered */
    int bsz = 4 * (400 + MPI_BSEND_OVERHEAD); char *bb = malloc(bsz); void *ba; int bs;
    OK(MPI_Buffer_attach(bb, bsz));
    OK(MPI_Bsend(a, 100, MPI_INT, next, 4, MPI_COMM_WORLD));
    OK(MPI_Ibsend(a, 100, MPI_INT, next, 5, MPI_COMM_WORLD, &rq[0]));
    OK(MPI_Recv(b, 100, MPI_INT, prev, 4, MPI_COMM_WORLD, &st)); CHECK(b[50] == prev * 1000 + 50);
    OK(MPI_Recv(b, 100, MPI_INT, prev, 5, MPI_COMM_WORLD, &st));
    OK(MPI_Wait(&rq[0], MPI_STATUS_IGNORE));
    OK(MPI_Buffer_detach(&ba, &bs)); CHECK(ba == bb && bs == bsz); free(bb);
    /* nonblocking in every mode, completed with waitall */
    int c[4][5];
    for (i = 0; i < 4; i++) OK(MPI_Irecv(c[i], 5, MPI_INT, prev, 10 + i, MPI_COMM_WORLD, &rq[i]));
    MPI_Request sq[4];
    OK(MPI_Barrier(MPI_COMM_WORLD));
    OK(MPI_Isend(a, 5, MPI_INT, next, 10, MPI_COMM_WORLD, &sq[0]));
    OK(MPI_Issend(a, 5, MPI_INT, next, 11, MPI_COMM_WORLD, &sq[1]));
    OK(MPI_Irsend(a, 5, MPI_INT, next, 12, MPI_COMM_WORLD, &sq[2]));
    OK(MPI_Isend(a, 5, MPI_INT, next, 13, MPI_COMM_WORLD, &sq[3]));
    MPI_Status sts[4];
    OK(MPI_Waitall(4, sq, MPI_STATUSES_IGNORE));
    int done = 0, idx, outc, ind[4];
    OK(MPI_Waitany(4, rq, &idx, &st)); CHECK(idx >= 0 && idx < 4 && rq[idx] == MPI_REQUEST_NULL); done++;
    OK(MPI_Waitsome(4, rq, &outc, ind, sts)); CHECK(outc >= 1); done += outc;
    while (done < 4) { OK(MPI_Testsome(4, rq, &outc, ind, sts)); if (outc != MPI_UNDEFINED) done += outc; }
    OK(MPI_Waitany(4, rq, &idx, &st)); CHECK(idx == MPI_UNDEFINED);
    OK(MPI_Testall(4, rq, &flag, sts)); CHECK(flag);
    for (i = 0; i < 4; i++) CHECK(c[i][4] == prev * 1000 + 4);
    /* sendrecv, sendrecv_replace, PROC_NULL */
    OK(MPI_Sendrecv(a, 7, MPI_INT, next, 20, b, 7, MPI_INT, prev, 20, MPI_COMM_WORLD, &st));
    CHECK(b[6] == prev * 1000 + 6 && st.MPI_SOURCE == prev);
    int x = rank;
    OK(MPI_Sendrecv_replace(&x, 1, MPI_INT, next, 21, prev, 21, MPI_COMM_WORLD, &st)); CHECK(x == prev);
    OK(MPI_Send(a, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD));
    OK(MPI_Recv(b, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD, &st));
    CHECK(st.MPI_SOURCE == MPI_PROC_NULL && st.MPI_TAG == MPI_ANY_TAG);
    OK(MPI_Get_count(&st, MPI_INT, &cnt)); CHECK(cnt == 0);
    /* probes */
    OK(MPI_Send(a, 9, MPI_INT, next, 30, MPI_COMM_WORLD));
    OK(MPI_Probe(MPI_ANY_SOURCE, 30, MPI_COMM_WORLD, &st));
    OK(MPI_Get_count(&st, MPI_INT, &cnt)); CHECK(cnt == 9 && st.MPI_SOURCE == prev);
    flag = 0; while (!flag) OK(MPI_Iprobe(prev, 30, MPI_COMM_WORLD, &flag, &st));
    OK(MPI_Recv(b, 100, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st)); CHECK(st.MPI_TAG == 30);
    OK(MPI_Iprobe(MPI_ANY_SOURCE, 31, MPI_COMM_WORLD, &flag, &st)); CHECK(!flag);
    /* matched probes */
    MPI_Message m;
    OK(MPI_Send(a, 11, MPI_INT, next, 40, MPI_COMM_WORLD));
    OK(MPI_Send(a, 12, MPI_INT, next, 41, MPI_COMM_WORLD));
    OK(MPI_Mprobe(prev, 40, MPI_COMM_WORLD, &m, &st)); OK(MPI_Get_count(&st, MPI_INT, &cnt)); CHECK(cnt == 11);
    OK(MPI_Mrecv(b, 11, MPI_INT, &m, &st)); CHECK(m == MPI_MESSAGE_NULL && b[10] == prev * 1000 + 10);
    flag = 0; while (!flag) OK(MPI_Improbe(prev, 41, MPI_COMM_WORLD, &flag, &m, &st));
    OK(MPI_Imrecv(b, 12, MPI_INT, &m, &rr)); OK(MPI_Wait(&rr, &st)); OK(MPI_Get_count(&st, MPI_INT, &cnt)); CHECK(cnt == 12);
    OK(MPI_Mprobe(MPI_PROC_NULL, 0, MPI_COMM_WORLD, &m, &st)); CHECK(m == MPI_MESSAGE_NO_PROC);
    OK(MPI_Mrecv(b, 1, MPI_INT, &m, &st)); CHECK(st.MPI_SOURCE == MPI_PROC_NULL);
    /* persistent */
    MPI_Request ps, pr; int it;
    OK(MPI_Send_init(&x, 1, MPI_INT, next, 50, MPI_COMM_WORLD, &ps));
    OK(MPI_Recv_init(&cnt, 1, MPI_INT, prev, 50, MPI_COMM_WORLD, &pr));
    OK(MPI_Wait(&pr, &st)); CHECK(pr != MPI_REQUEST_NULL); /* inactive: returns at once */
    for (it = 0; it < 3; it++) {
        x = rank * 10 + it;
        MPI_Request both[2] = {pr, ps};
        OK(MPI_Startall(2, both)); OK(MPI_Waitall(2, both, MPI_STATUSES_IGNORE));
        CHECK(both[0] == pr && both[1] == ps && cnt == prev * 10 + it);
    }
    OK(MPI_Request_free(&ps)); OK(MPI_Request_free(&pr)); CHECK(ps == MPI_REQUEST_NULL);
    MPI_Request p2[3];
    OK(MPI_Ssend_init(&x, 1, MPI_INT, next, 51, MPI_COMM_WORLD, &p2[0]));
    OK(MPI_Rsend_init(&x, 1, MPI_INT, next, 52, MPI_COMM_WORLD, &p2[1]));
    char pb[2 * (4 + MPI_BSEND_OVERHEAD)];
    OK(MPI_Buffer_attach(pb, sizeof pb));
    OK(MPI_Bsend_init(&x, 1, MPI_INT, next, 53, MPI_COMM_WORLD, &p2[2]));
    int y[3];
    OK(MPI_Irecv(&y[1], 1, MPI_INT, prev, 52, MPI_COMM_WORLD, &rq[1]));
    OK(MPI_Barrier(MPI_COMM_WORLD));
    OK(MPI_Startall(3, p2));
    OK(MPI_Recv(&y[0], 1, MPI_INT, prev, 51, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    OK(MPI_Recv(&y[2], 1, MPI_INT, prev, 53, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    OK(MPI_Wait(&rq[1], MPI_STATUS_IGNORE));
    OK(MPI_Waitall(3, p2, MPI_STATUSES_IGNORE));
    CHECK(y[0] == prev * 10 + 2 && y[1] == prev * 10 + 2 && y[2] == prev * 10 + 2);
    for (i = 0; i < 3; i++) OK(MPI_Request_free(&p2[i]));
    OK(MPI_Buffer_detach(&ba, &bs));
    /* cancel: an unmatched receive is cancelled; a send completes uncancelled */
    OK(MPI_Irecv(b, 1, MPI_INT, prev, 60, MPI_COMM_WORLD, &rr));
    OK(MPI_Cancel(&rr)); OK(MPI_Wait(&rr, &st)); OK(MPI_Test_cancelled(&st, &flag)); CHECK(flag);
    OK(MPI_Isend(a, 1, MPI_INT, next, 61, MPI_COMM_WORLD, &rr));
    OK(MPI_Cancel(&rr)); OK(MPI_Wait(&rr, &st)); OK(MPI_Test_cancelled(&st, &flag)); CHECK(!flag);
    OK(MPI_Recv(b, 1, MPI_INT, prev, 61, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    /* request status without freeing, test */
    OK(MPI_Irecv(b, 1, MPI_INT, prev, 70, MPI_COMM_WORLD, &rr));
    OK(MPI_Request_get_status(rr, &flag, &st)); /* the message may be there already */
    OK(MPI_Send(a, 1, MPI_INT, next, 70, MPI_COMM_WORLD));
    flag = 0; while (!flag) OK(MPI_Request_get_status(rr, &flag, &st));
    CHECK(rr != MPI_REQUEST_NULL && st.MPI_SOURCE == prev);
    flag = 0; while (!flag) OK(MPI_Test(&rr, &flag, &st)); CHECK(rr == MPI_REQUEST_NULL);
    /* fire and forget: a freed active send still arrives */
    OK(MPI_Isend(a, 2, MPI_INT, next, 80, MPI_COMM_WORLD, &rr)); OK(MPI_Request_free(&rr));
    OK(MPI_Recv(b, 2, MPI_INT, prev, 80, MPI_COMM_WORLD, MPI_STATUS_IGNORE)); CHECK(b[1] == prev * 1000 + 1);
    /* a large message (rendezvous path) */
    int big = 1 << 18; int *L = malloc(big * sizeof(int)), *M = malloc(big * sizeof(int));
    for (i = 0; i < big; i++) L[i] = rank + i;
    OK(MPI_Sendrecv(L, big, MPI_INT, next, 90, M, big, MPI_INT, prev, 90, MPI_COMM_WORLD, &st));
    CHECK(M[big - 1] == prev + big - 1); free(L); free(M);
    /* truncation, returned */
    OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    OK(MPI_Send(a, 5, MPI_INT, next, 95, MPI_COMM_WORLD));
    st.MPI_ERROR = 12345; /* a single-completion call leaves it (MPI-3.1 §3.2.5; MPICH too) */
    CHECK(MPI_Recv(b, 2, MPI_INT, prev, 95, MPI_COMM_WORLD, &st) == MPI_ERR_TRUNCATE);
    CHECK(st.MPI_ERROR == 12345);
    OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL));
    /* status helpers */
    OK(MPI_Status_set_elements(&st, MPI_DOUBLE, 3)); OK(MPI_Get_count(&st, MPI_DOUBLE, &cnt)); CHECK(cnt == 3);
    OK(MPI_Get_count(&st, MPI_INT, &cnt)); CHECK(cnt == 6);
    OK(MPI_Status_set_cancelled(&st, 1)); OK(MPI_Test_cancelled(&st, &flag)); CHECK(flag);
    OK(MPI_Get_count(&st, MPI_DOUBLE, &cnt)); CHECK(cnt == 3);
    /* generalized request */
    MPI_Request g;
    OK(MPI_Grequest_start(q_fn, f_fn, c_fn, NULL, &g));
    OK(MPI_Test(&g, &flag, &st)); CHECK(!flag);
    OK(MPI_Grequest_complete(g));
    OK(MPI_Wait(&g, &st)); CHECK(g == MPI_REQUEST_NULL && greq_done == 1 && greq_freed == 1);
    OK(MPI_Get_count(&st, MPI_BYTE, &cnt)); CHECK(cnt == 7);
}

int main(int argc, char **argv) {
    int provided;
    OK(MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided));
    CHECK(provided == MPI_THREAD_MULTIPLE);
    OK(MPI_Comm_rank(MPI_COMM_WORLD, &rank)); OK(MPI_Comm_size(MPI_COMM_WORLD, &size));
    environment(); info(); errors(); comms_attrs_types(); p2p();
    /* an attribute on MPI_COMM_SELF is deleted at the start of MPI_Finalize */
    int key; static int one = 100;
    OK(MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, del_fn, &key, NULL));
    OK(MPI_Comm_set_attr(MPI_COMM_SELF, key, &one));
    OK(MPI_Barrier(MPI_COMM_WORLD));
    printf("rank %d of %d: PASS\n", rank, size); fflush(stdout);
    OK(MPI_Finalize());
    CHECK(deleted == 111);
    int flag; OK(MPI_Finalized(&flag)); CHECK(flag);
    return 0;
}
