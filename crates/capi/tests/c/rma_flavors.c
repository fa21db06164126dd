/* The four ways to make a window and what a window carries.
 *
 *   MPI_Win_create, with size 0 and a NULL base on odd ranks (puts go to the even ones)
 *   MPI_Win_allocate (doubles, disp_unit 8), and with sizes that are not a multiple
 *     of 16 bytes (checked only where the library is not MPICH: MPICH 4.0.2 puts a
 *     rank's remote accesses at the wrong address then; the line is printed anyway)
 *   MPI_Win_allocate_shared on MPI_Comm_split_type(MPI_COMM_TYPE_SHARED), node rank
 *     0 of a node of several with size 0: MPI_Win_shared_query of every rank
 *     (contiguous by default), of MPI_PROC_NULL (the first nonzero segment), direct
 *     stores into every segment and loads of them, with MPI_Win_sync + barrier
 *     between writer and reader, an MPI_Accumulate into a shared segment; the same
 *     with alloc_shared_noncontig=true
 *   MPI_Win_create_dynamic with MPI_Win_attach / MPI_Win_detach, displacements from
 *     MPI_Get_address exchanged with MPI_Allgather, two rounds with other memory
 *   the attributes MPI_WIN_BASE, MPI_WIN_SIZE, MPI_WIN_DISP_UNIT,
 *     MPI_WIN_CREATE_FLAVOR, MPI_WIN_MODEL of each; MPI_Win_get_group;
 *     MPI_Win_set_name / get_name; MPI_Win_set_info / get_info; user keyvals with a
 *     delete callback that prints (on overwrite, delete_attr and MPI_Win_free).
 * Rank 0 prints a line per case, every rank its callbacks; exit 1 on a wrong value. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size, fails, is_mpich;
#define CHECK(c, ...)                                                                                        \
    do {                                                                                                     \
        if (!(c)) {                                                                                          \
            fails++;                                                                                         \
            printf("rank %d: FAIL line %d: %s: ", rank, __LINE__, #c);                                       \
            printf(__VA_ARGS__);                                                                             \
            printf("\n");                                                                                    \
        }                                                                                                    \
    } while (0)

static void report(const char *what, int before) {
    int bad = fails - before, any;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("%s: %s\n", what, any ? "FAIL" : "ok");
}

/* The five predefined attributes. base_want NULL with check_base: must be NULL. */
static void attrs(MPI_Win w, const char *what, void *base_want, MPI_Aint size_want, int du_want, int flavor_want) {
    void *base = (void *)1;
    MPI_Aint *sz = NULL;
    int *du = NULL, *fl = NULL, *model = NULL, f1 = 0, f2 = 0, f3 = 0, f4 = 0, f5 = 0;
    MPI_Win_get_attr(w, MPI_WIN_BASE, &base, &f1);
    MPI_Win_get_attr(w, MPI_WIN_SIZE, &sz, &f2);
    MPI_Win_get_attr(w, MPI_WIN_DISP_UNIT, &du, &f3);
    MPI_Win_get_attr(w, MPI_WIN_CREATE_FLAVOR, &fl, &f4);
    MPI_Win_get_attr(w, MPI_WIN_MODEL, &model, &f5);
    CHECK(f1 && f2 && f3 && f4 && f5, "%s: flags %d %d %d %d %d", what, f1, f2, f3, f4, f5);
    if (!(f1 && f2 && f3 && f4 && f5)) return;
    CHECK(base == base_want, "%s: MPI_WIN_BASE %p, expected %p", what, base, base_want);
    CHECK(*sz == size_want, "%s: MPI_WIN_SIZE %ld, expected %ld", what, (long)*sz, (long)size_want);
    CHECK(*du == du_want, "%s: MPI_WIN_DISP_UNIT %d, expected %d", what, *du, du_want);
    CHECK(*fl == flavor_want, "%s: MPI_WIN_CREATE_FLAVOR %d, expected %d", what, *fl, flavor_want);
    /* either model is allowed, shared windows included (MPICH: unified everywhere) */
    CHECK(*model == MPI_WIN_UNIFIED || *model == MPI_WIN_SEPARATE, "%s: MPI_WIN_MODEL %d", what, *model);
}

static void group_is(MPI_Win w, MPI_Comm c, const char *what) {
    MPI_Group a, b;
    int res = -1;
    MPI_Win_get_group(w, &a);
    MPI_Comm_group(c, &b);
    MPI_Group_compare(a, b, &res);
    CHECK(res == MPI_IDENT, "%s: MPI_Win_get_group compares %d with the communicator's", what, res);
    MPI_Group_free(&a);
    MPI_Group_free(&b);
}

static void case_create(void) {
    int before = fails;
    int even = rank % 2 == 0;
    int *buf = even ? malloc(size * sizeof(int)) : NULL;
    if (even)
        for (int i = 0; i < size; i++) buf[i] = -1;
    MPI_Win w;
    MPI_Win_create(buf, even ? size * sizeof(int) : 0, sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &w);
    attrs(w, "create", buf, even ? size * sizeof(int) : 0, sizeof(int), MPI_WIN_FLAVOR_CREATE);
    group_is(w, MPI_COMM_WORLD, "create");
    MPI_Win_fence(MPI_MODE_NOPRECEDE, w);
    int v = 100 + rank;
    for (int t = 0; t < size; t += 2) MPI_Put(&v, 1, MPI_INT, t, rank, 1, MPI_INT, w);
    MPI_Win_fence(MPI_MODE_NOSUCCEED, w);
    if (even)
        for (int i = 0; i < size; i++) CHECK(buf[i] == 100 + i, "create: element %d is %d", i, buf[i]);
    MPI_Win_free(&w);
    CHECK(w == MPI_WIN_NULL, "MPI_Win_free leaves %d", (int)w);
    free(buf);
    report("create (size 0 and NULL base on odd ranks)", before);
}

static void case_allocate(void) {
    int before = fails;
    int next = (rank + 1) % size, prev = (rank - 1 + size) % size;
    double *mem = NULL;
    MPI_Win w;
    int n = 2 * (rank + 1);
    MPI_Win_allocate(n * sizeof(double), sizeof(double), MPI_INFO_NULL, MPI_COMM_WORLD, &mem, &w);
    CHECK(mem != NULL, "allocate: NULL base");
    attrs(w, "allocate", mem, n * sizeof(double), sizeof(double), MPI_WIN_FLAVOR_ALLOCATE);
    group_is(w, MPI_COMM_WORLD, "allocate");
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, rank, 0, w);
    for (int i = 0; i < n; i++) mem[i] = -1;
    MPI_Win_unlock(rank, w);
    MPI_Barrier(MPI_COMM_WORLD);
    int nn = 2 * (next + 1);
    double v[64];
    for (int i = 0; i < nn; i++) v[i] = rank + 0.25 * i;
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, next, 0, w);
    MPI_Put(v, nn, MPI_DOUBLE, next, 0, nn, MPI_DOUBLE, w);
    MPI_Win_unlock(next, w);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Win_lock(MPI_LOCK_SHARED, rank, 0, w);
    for (int i = 0; i < n; i++) CHECK(mem[i] == prev + 0.25 * i, "allocate: element %d is %g", i, mem[i]);
    MPI_Win_unlock(rank, w);
    MPI_Win_free(&w);
    report("allocate (doubles, disp_unit 8)", before);

    /* sizes of 4, 8, 12 ... bytes + 4: not multiples of 16 */
    before = fails;
    if (!is_mpich) {
        int *im;
        int k = 4 * rank + 5, kn = 4 * next + 5;
        MPI_Win_allocate(k * sizeof(int), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &im, &w);
        MPI_Win_lock(MPI_LOCK_EXCLUSIVE, rank, 0, w);
        for (int i = 0; i < k; i++) im[i] = -1;
        MPI_Win_unlock(rank, w);
        MPI_Barrier(MPI_COMM_WORLD);
        int iv[64];
        for (int i = 0; i < kn; i++) iv[i] = 1000 * rank + i;
        MPI_Win_lock(MPI_LOCK_EXCLUSIVE, next, 0, w);
        MPI_Put(iv, kn, MPI_INT, next, 0, kn, MPI_INT, w);
        MPI_Win_unlock(next, w);
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_Win_lock(MPI_LOCK_SHARED, rank, 0, w);
        for (int i = 0; i < k; i++) CHECK(im[i] == 1000 * prev + i, "allocate odd: element %d is %d", i, im[i]);
        MPI_Win_unlock(rank, w);
        MPI_Win_free(&w);
    }
    report("allocate (sizes 4k+5 ints)", before);
}

static void case_shared(int noncontig) {
    int before = fails;
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    int nr, nn;
    MPI_Comm_rank(node, &nr);
    MPI_Comm_size(node, &nn);
    /* node rank 0 of several: no memory; the others nn + nr ints (odd byte counts too) */
    int mine = (nr == 0 && nn > 1) ? 0 : nn + nr;
    MPI_Info info = MPI_INFO_NULL;
    if (noncontig) {
        MPI_Info_create(&info);
        MPI_Info_set(info, "alloc_shared_noncontig", "true");
    }
    int *base = NULL;
    MPI_Win w;
    MPI_Win_allocate_shared(mine * sizeof(int), sizeof(int), info, node, &base, &w);
    if (info != MPI_INFO_NULL) MPI_Info_free(&info);
    const char *what = noncontig ? "shared noncontig" : "shared";
    if (mine) attrs(w, what, base, mine * sizeof(int), sizeof(int), MPI_WIN_FLAVOR_SHARED);
    group_is(w, node, what);

    int **seg = malloc(nn * sizeof(int *));
    MPI_Aint *sz = malloc(nn * sizeof(MPI_Aint));
    int first = -1;
    for (int r = 0; r < nn; r++) {
        int du = 0;
        MPI_Win_shared_query(w, r, &sz[r], &du, &seg[r]);
        int want = (r == 0 && nn > 1) ? 0 : nn + r;
        CHECK(sz[r] == want * (MPI_Aint)sizeof(int), "%s: query of %d: size %ld", what, r, (long)sz[r]);
        CHECK(du == sizeof(int), "%s: query of %d: disp_unit %d", what, r, du);
        if (want && first < 0) first = r;
    }
    if (mine) CHECK(seg[nr] == base, "%s: query of myself %p, base %p", what, (void *)seg[nr], (void *)base);
    if (!noncontig)
        for (int r = first + 1; r < nn; r++)
            CHECK((char *)seg[r] == (char *)seg[r - 1] + sz[r - 1], "%s: segment %d at %p, previous ends at %p", what,
                  r, (void *)seg[r], (void *)((char *)seg[r - 1] + sz[r - 1]));
    {
        MPI_Aint s;
        int du;
        int *p;
        MPI_Win_shared_query(w, MPI_PROC_NULL, &s, &du, &p);
        CHECK(p == seg[first] && s == sz[first], "%s: query of MPI_PROC_NULL %p size %ld, first nonzero %p", what,
              (void *)p, (long)s, (void *)seg[first]);
    }

    /* stores into my own segment, loads of everybody's */
    MPI_Win_lock_all(0, w);
    for (int i = 0; i < mine; i++) base[i] = 1000 * nr + i;
    MPI_Win_sync(w);
    MPI_Barrier(node);
    MPI_Win_sync(w);
    for (int r = first; r < nn; r++)
        for (int i = 0; i < nn + r; i++) {
            volatile int *p = seg[r];
            CHECK(p[i] == 1000 * r + i, "%s: load of rank %d's element %d: %d", what, r, i, p[i]);
        }
    MPI_Barrier(node);
    /* stores into everybody's segment (element nr), loads of mine */
    for (int r = first; r < nn; r++) seg[r][nr] = 5000 + 100 * nr + r;
    MPI_Win_sync(w);
    MPI_Barrier(node);
    MPI_Win_sync(w);
    for (int i = 0; i < nn && mine; i++) {
        volatile int *p = base;
        CHECK(p[i] == 5000 + 100 * i + nr, "%s: element %d of my segment after stores: %d", what, i, p[i]);
    }
    MPI_Barrier(node);
    /* an accumulate into the first segment's last element, by everybody */
    int one = nr + 1;
    MPI_Accumulate(&one, 1, MPI_INT, first, nn + first - 1, 1, MPI_INT, MPI_SUM, w);
    MPI_Win_flush(first, w);
    MPI_Barrier(node);
    MPI_Win_sync(w);
    {
        volatile int *p = seg[first];
        int last = nn + first - 1; /* stored by its owner, or in the second round by node rank nn - 1 */
        int want = (last < nn ? 5000 + 100 * last + first : 1000 * first + last) + nn * (nn + 1) / 2;
        CHECK(p[nn + first - 1] == want, "%s: accumulated element %d, expected %d", what, p[nn + first - 1], want);
    }
    MPI_Win_unlock_all(w);
    MPI_Win_free(&w);
    free(seg);
    free(sz);
    MPI_Comm_free(&node);
    report(noncontig ? "allocate_shared (alloc_shared_noncontig)" : "allocate_shared", before);
}

static void case_dynamic(void) {
    int before = fails;
    int next = (rank + 1) % size, prev = (rank - 1 + size) % size;
    MPI_Win w;
    MPI_Win_create_dynamic(MPI_INFO_NULL, MPI_COMM_WORLD, &w);
    attrs(w, "dynamic", MPI_BOTTOM, 0, 1, MPI_WIN_FLAVOR_DYNAMIC);
    group_is(w, MPI_COMM_WORLD, "dynamic");
    MPI_Aint *addr = malloc(2 * size * sizeof(MPI_Aint));
    for (int round = 0; round < 2; round++) {
        /* round 0: one region; round 1: two other regions, the second one used */
        int *a = malloc(8 * sizeof(int)), *b = malloc(16 * sizeof(int));
        for (int i = 0; i < 8; i++) a[i] = 10 * rank + i;
        for (int i = 0; i < 16; i++) b[i] = 20 * rank + i;
        MPI_Win_attach(w, a, 8 * sizeof(int));
        if (round) MPI_Win_attach(w, b, 16 * sizeof(int));
        MPI_Aint mine[2];
        MPI_Get_address(a, &mine[0]);
        MPI_Get_address(b, &mine[1]);
        MPI_Allgather(mine, 2, MPI_AINT, addr, 2, MPI_AINT, MPI_COMM_WORLD);
        int *tgt = round ? b : a; /* the region the others write into */
        MPI_Win_lock_all(0, w);
        int v[4] = {900 + rank, 901 + rank, 902 + rank, 903 + rank}, got[2] = {-1, -1};
        MPI_Aint tn = addr[2 * next + round], tp = addr[2 * prev];
        MPI_Put(v, 4, MPI_INT, next, MPI_Aint_add(tn, 2 * sizeof(int)), 4, MPI_INT, w);
        MPI_Get(got, 2, MPI_INT, prev, tp, 2, MPI_INT, w);
        MPI_Win_flush_all(w);
        /* what prev had in a[0..1] before anybody's put (puts go to elements 2..5) */
        for (int i = 0; i < 2; i++) CHECK(got[i] == 10 * prev + i, "dynamic round %d: got %d at %d", round, got[i], i);
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_Win_sync(w);
        for (int i = 2; i < 6; i++)
            CHECK(tgt[i] == 900 + prev + i - 2, "dynamic round %d: element %d is %d", round, i, tgt[i]);
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_Win_unlock_all(w);
        MPI_Win_detach(w, a);
        if (round) MPI_Win_detach(w, b);
        MPI_Barrier(MPI_COMM_WORLD); /* nobody frees memory another may still reach */
        free(a);
        free(b);
    }
    free(addr);
    MPI_Win_free(&w);
    report("create_dynamic with attach/detach", before);
}

static int delete_calls;
static int on_delete(MPI_Win w, int key, void *value, void *extra) {
    (void)w;
    (void)key;
    delete_calls++;
    printf("rank %d: delete callback: value %d, extra %d\n", rank, *(int *)value, *(int *)extra);
    return MPI_SUCCESS;
}

static void case_names_info_keyvals(void) {
    int before = fails;
    MPI_Win w;
    int *mem;
    MPI_Win_allocate(4 * sizeof(int), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &mem, &w);

    char name[MPI_MAX_OBJECT_NAME];
    int len = -1;
    MPI_Win_get_name(w, name, &len);
    CHECK(len == 0 && name[0] == 0, "default name '%s' (%d)", name, len);
    MPI_Win_set_name(w, "rma flavors window");
    MPI_Win_get_name(w, name, &len);
    CHECK(len == (int)strlen("rma flavors window") && !strcmp(name, "rma flavors window"), "name '%s' (%d)", name,
          len);

    MPI_Info in, used = MPI_INFO_NULL;
    MPI_Win_get_info(w, &used);
    CHECK(used != MPI_INFO_NULL, "MPI_Win_get_info gave MPI_INFO_NULL");
    if (used != MPI_INFO_NULL) MPI_Info_free(&used);
    MPI_Info_create(&in);
    MPI_Info_set(in, "no_locks", "false");
    MPI_Info_set(in, "accumulate_ordering", "rar,raw,war,waw");
    CHECK(MPI_Win_set_info(w, in) == MPI_SUCCESS, "MPI_Win_set_info");
    MPI_Info_free(&in);
    used = MPI_INFO_NULL;
    MPI_Win_get_info(w, &used);
    CHECK(used != MPI_INFO_NULL, "MPI_Win_get_info after set_info gave MPI_INFO_NULL");
    if (used != MPI_INFO_NULL) {
        char v[MPI_MAX_INFO_VAL + 1];
        int flag = 0;
        MPI_Info_get(used, "no_locks", MPI_MAX_INFO_VAL, v, &flag);
        CHECK(!flag || !strcmp(v, "false"), "no_locks is '%s'", v);
        MPI_Info_free(&used);
    }

    static int extra = 77, vals[3] = {11, 22, 33};
    int key;
    MPI_Win_create_keyval(MPI_WIN_NULL_COPY_FN, on_delete, &key, &extra);
    int *got = NULL, flag = -1;
    MPI_Win_get_attr(w, key, &got, &flag);
    CHECK(flag == 0, "unset attribute: flag %d", flag);
    MPI_Win_set_attr(w, key, &vals[0]);
    MPI_Win_get_attr(w, key, &got, &flag);
    CHECK(flag && got == &vals[0], "attribute: flag %d value %p", flag, (void *)got);
    MPI_Win_set_attr(w, key, &vals[1]); /* deletes 11 */
    CHECK(delete_calls == 1, "delete calls after overwrite: %d", delete_calls);
    MPI_Win_delete_attr(w, key); /* deletes 22 */
    CHECK(delete_calls == 2, "delete calls after delete_attr: %d", delete_calls);
    MPI_Win_get_attr(w, key, &got, &flag);
    CHECK(flag == 0, "deleted attribute: flag %d", flag);
    MPI_Win_set_attr(w, key, &vals[2]);
    MPI_Win_free_keyval(&key); /* the attribute keeps it alive */
    CHECK(key == MPI_KEYVAL_INVALID, "keyval after free %d", key);
    MPI_Win_free(&w); /* deletes 33 */
    CHECK(delete_calls == 3, "delete calls after MPI_Win_free: %d", delete_calls);
    report("name, info, keyvals", before);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len;
    MPI_Get_library_version(lib, &len);
    is_mpich = strstr(lib, "MPICH") != NULL && strstr(lib, "vmpi") == NULL;
    case_create();
    case_allocate();
    case_shared(0);
    case_shared(1);
    case_dynamic();
    case_names_info_keyvals();
    int any;
    MPI_Allreduce(&fails, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    printf("rank %d of %d: %s\n", rank, size, any ? "FAIL" : "PASS");
    MPI_Finalize();
    return fails ? 1 : 0;
}
