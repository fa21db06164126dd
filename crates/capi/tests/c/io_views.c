/* MPI-IO with views: strided vectors, 2-D and 3-D subarray block decompositions
 * and struct types, written collectively and independently (blocking,
 * nonblocking, split collective), read back through the view and checked byte
 * for byte against the whole file read plainly. argv[1]: the directory; argv[2]
 * (optional): "small" runs with tiny collective buffers and 2 aggregators.
 * Every rank prints "rank R of N: PASS". */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>

static int rank, size, fails;
static MPI_Info hints;

#define CHECK(c, ...) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: ", rank, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)
#define OK(call) do { int rc_ = (call); if (rc_ != MPI_SUCCESS) { char s_[MPI_MAX_ERROR_STRING]; int l_; MPI_Error_string(rc_, s_, &l_); printf("rank %d: FAIL line %d: %s -> %d %s\n", rank, __LINE__, #call, rc_, s_); fails++; } } while (0)

static char path[4096];

/* Rank 0 reads the whole file with the default view and checks every int. */
static void check_file_ints(const char *what, int n, int (*expect)(int)) {
    MPI_File fh;
    if (rank == 0) {
        int *all = malloc(sizeof(int) * n);
        MPI_Status st;
        int cnt;
        OK(MPI_File_open(MPI_COMM_SELF, path, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh));
        OK(MPI_File_read_at(fh, 0, all, n, MPI_INT, &st));
        MPI_Get_count(&st, MPI_INT, &cnt);
        CHECK(cnt == n, "%s: read %d ints of %d", what, cnt, n);
        MPI_Offset sz;
        OK(MPI_File_get_size(fh, &sz));
        CHECK(sz == (MPI_Offset)n * 4, "%s: size %lld, want %d", what, (long long)sz, n * 4);
        int bad = 0;
        for (int i = 0; i < n && bad < 5; i++)
            if (all[i] != expect(i)) { bad++; CHECK(0, "%s: int %d is %d, want %d", what, i, all[i], expect(i)); }
        OK(MPI_File_close(&fh));
        free(all);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

static void fresh(const char *name) {
    snprintf(path, sizeof path, "%s/%s", getenv("IO_DIR"), name);
    if (rank == 0) MPI_File_delete(path, MPI_INFO_NULL);
    MPI_Barrier(MPI_COMM_WORLD);
}

/* ---- 1. strided vector: block b of rank r at (b * size + r) * BL ---- */
#define BL 3
#define NB 50
static int vec_expect(int i) { int blk = i / BL; return (blk % size) * 100000 + (blk / size) * BL + i % BL; }

static void vectors(int mode) {
    static const char *names[] = {"write_all", "write_at", "iwrite_at", "write_all_begin", "iwrite_all", "write"};
    char nm[64];
    snprintf(nm, sizeof nm, "vec-%s", names[mode]);
    fresh(nm);
    MPI_Datatype ft, vec;
    MPI_Type_vector(NB, BL, BL * size, MPI_INT, &vec);
    MPI_Type_create_resized(vec, 0, (MPI_Aint)NB * BL * size * 4, &ft);
    MPI_Type_commit(&ft);
    int buf[NB * BL];
    for (int i = 0; i < NB * BL; i++) buf[i] = rank * 100000 + i;
    MPI_File fh;
    MPI_Status st;
    OK(MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_RDWR, hints, &fh));
    OK(MPI_File_set_view(fh, (MPI_Offset)rank * BL * 4, MPI_INT, ft, "native", hints));
    MPI_Request rq;
    switch (mode) {
    case 0: OK(MPI_File_write_all(fh, buf, NB * BL, MPI_INT, &st)); break;
    case 1: OK(MPI_File_write_at(fh, 0, buf, NB * BL, MPI_INT, &st)); break;
    case 2: OK(MPI_File_iwrite_at(fh, 0, buf, NB * BL, MPI_INT, &rq)); OK(MPI_Wait(&rq, &st)); break;
    case 3: OK(MPI_File_write_all_begin(fh, buf, NB * BL, MPI_INT)); OK(MPI_File_write_all_end(fh, buf, &st)); break;
    case 4: OK(MPI_File_iwrite_all(fh, buf, NB * BL, MPI_INT, &rq)); OK(MPI_Wait(&rq, &st)); break;
    case 5: OK(MPI_File_write(fh, buf, NB * BL / 2, MPI_INT, &st));
            OK(MPI_File_write(fh, buf + NB * BL / 2, NB * BL - NB * BL / 2, MPI_INT, &st)); break;
    }
    int cnt;
    MPI_Get_count(&st, MPI_INT, &cnt);
    CHECK(cnt == (mode == 5 ? NB * BL - NB * BL / 2 : NB * BL), "%s: status count %d", nm, cnt);
    OK(MPI_File_sync(fh));
    MPI_Barrier(MPI_COMM_WORLD);
    OK(MPI_File_sync(fh));
    check_file_ints(nm, NB * BL * size, vec_expect);
    /* read back through the view, collectively and independently */
    int back[NB * BL];
    memset(back, 0, sizeof back);
    OK(MPI_File_read_at_all(fh, 0, back, NB * BL, MPI_INT, &st));
    CHECK(memcmp(back, buf, sizeof buf) == 0, "%s: read_at_all differs", nm);
    memset(back, 0, sizeof back);
    OK(MPI_File_iread_at(fh, 0, back, NB * BL, MPI_INT, &rq));
    OK(MPI_Wait(&rq, &st));
    CHECK(memcmp(back, buf, sizeof buf) == 0, "%s: iread_at differs", nm);
    /* the individual pointer moved with mode 0/3/4/5 */
    MPI_Offset pos, byte;
    OK(MPI_File_get_position(fh, &pos));
    CHECK(pos == ((mode == 0 || mode >= 3) ? NB * BL : 0), "%s: position %lld", nm, (long long)pos);
    OK(MPI_File_get_byte_offset(fh, BL + 1, &byte));
    CHECK(byte == (MPI_Offset)rank * BL * 4 + (MPI_Offset)BL * size * 4 + 4, "%s: byte offset %lld", nm, (long long)byte);
    OK(MPI_File_seek(fh, 2, MPI_SEEK_SET));
    int two[2];
    OK(MPI_File_read(fh, two, 2, MPI_INT, &st));
    CHECK(two[0] == buf[2] && two[1] == buf[3], "%s: read after seek: %d %d", nm, two[0], two[1]);
    OK(MPI_File_seek(fh, -1, MPI_SEEK_CUR));
    OK(MPI_File_read_all(fh, two, 1, MPI_INT, &st));
    CHECK(two[0] == buf[3], "%s: read_all after SEEK_CUR: %d", nm, two[0]);
    OK(MPI_File_seek(fh, 0, MPI_SEEK_END));
    OK(MPI_File_get_position(fh, &pos));
    CHECK(pos == NB * BL, "%s: SEEK_END position %lld", nm, (long long)pos);
    MPI_Datatype et, ft2;
    MPI_Offset disp;
    char rep[MPI_MAX_DATAREP_STRING];
    OK(MPI_File_get_view(fh, &disp, &et, &ft2, rep));
    CHECK(disp == (MPI_Offset)rank * BL * 4 && et == MPI_INT && strcmp(rep, "native") == 0, "%s: get_view", nm);
    int ni, na, nd, comb;
    MPI_Type_get_envelope(ft2, &ni, &na, &nd, &comb);
    CHECK(comb != MPI_COMBINER_NAMED, "%s: filetype combiner %d", nm, comb);
    MPI_Type_free(&ft2);
    OK(MPI_File_close(&fh));
    MPI_Type_free(&ft);
    MPI_Type_free(&vec);
}

/* ---- 1b. holes: only even ranks write collectively; odd ranks' blocks keep
   what was there ---- */
static int holes_expect(int i) { int blk = i / BL, who = blk % size; return who % 2 ? -7 : vec_expect(i); }

static void holes(void) {
    fresh("holes");
    int n = NB * BL * size;
    MPI_File fh;
    MPI_Status st;
    OK(MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_RDWR, hints, &fh));
    if (rank == 0) {
        int *fill = malloc(sizeof(int) * n);
        for (int i = 0; i < n; i++) fill[i] = -7;
        OK(MPI_File_write_at(fh, 0, fill, n, MPI_INT, &st));
        free(fill);
    }
    OK(MPI_File_sync(fh));
    MPI_Barrier(MPI_COMM_WORLD);
    OK(MPI_File_sync(fh));
    MPI_Datatype ft, vec;
    MPI_Type_vector(NB, BL, BL * size, MPI_INT, &vec);
    MPI_Type_create_resized(vec, 0, (MPI_Aint)NB * BL * size * 4, &ft);
    MPI_Type_commit(&ft);
    OK(MPI_File_set_view(fh, (MPI_Offset)rank * BL * 4, MPI_INT, ft, "native", hints));
    int buf[NB * BL];
    for (int i = 0; i < NB * BL; i++) buf[i] = rank * 100000 + i;
    OK(MPI_File_write_all(fh, buf, rank % 2 ? 0 : NB * BL, MPI_INT, &st));
    OK(MPI_File_close(&fh));
    check_file_ints("holes", n, holes_expect);
    MPI_Type_free(&ft);
    MPI_Type_free(&vec);
}

/* ---- 2. 2-D / 3-D subarray block decomposition, memory with ghost cells ---- */
static int G[3], P[3];
static int sub_expect(int i) { return i; }

static void subarrays(int nd, int independent) {
    char nm[64];
    snprintf(nm, sizeof nm, "sub%dd-%s", nd, independent ? "ind" : "coll");
    fresh(nm);
    int dims[3] = {0, 0, 0}, coords[3], lsz[3], start[3], gsz[3];
    MPI_Dims_create(size, nd, dims);
    int r = rank;
    for (int d = nd - 1; d >= 0; d--) { coords[d] = r % dims[d]; r /= dims[d]; }
    for (int d = 0; d < nd; d++) {
        gsz[d] = G[d];
        int q = G[d] / dims[d], rem = G[d] % dims[d];
        lsz[d] = q + (coords[d] < rem);
        start[d] = coords[d] * q + (coords[d] < rem ? coords[d] : rem);
    }
    MPI_Datatype ft, mt;
    MPI_Type_create_subarray(nd, gsz, lsz, start, MPI_ORDER_C, MPI_INT, &ft);
    MPI_Type_commit(&ft);
    /* memory: the block with one ghost cell on every side */
    int msz[3], mst[3], mtot = 1, ltot = 1;
    for (int d = 0; d < nd; d++) { msz[d] = lsz[d] + 2; mst[d] = 1; mtot *= msz[d]; ltot *= lsz[d]; }
    MPI_Type_create_subarray(nd, msz, lsz, mst, MPI_ORDER_C, MPI_INT, &mt);
    MPI_Type_commit(&mt);
    int *mem = malloc(sizeof(int) * mtot), *back = malloc(sizeof(int) * mtot);
    for (int i = 0; i < mtot; i++) mem[i] = -1;
    /* fill interior with global linear index */
    int idx[3] = {0, 0, 0};
    for (int k = 0; k < ltot; k++) {
        int t = k;
        for (int d = nd - 1; d >= 0; d--) { idx[d] = t % lsz[d]; t /= lsz[d]; }
        int g = 0, m = 0;
        for (int d = 0; d < nd; d++) { g = g * gsz[d] + start[d] + idx[d]; m = m * msz[d] + idx[d] + 1; }
        mem[m] = g;
    }
    MPI_File fh;
    MPI_Status st;
    OK(MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_WRONLY, hints, &fh));
    OK(MPI_File_set_view(fh, 0, MPI_INT, ft, "native", hints));
    if (independent) OK(MPI_File_write(fh, mem, 1, mt, &st));
    else OK(MPI_File_write_all(fh, mem, 1, mt, &st));
    OK(MPI_File_close(&fh));
    int total = 1;
    for (int d = 0; d < nd; d++) total *= gsz[d];
    check_file_ints(nm, total, sub_expect);
    OK(MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_RDONLY, hints, &fh));
    OK(MPI_File_set_view(fh, 0, MPI_INT, ft, "native", hints));
    for (int i = 0; i < mtot; i++) back[i] = -1;
    if (independent) OK(MPI_File_read(fh, back, 1, mt, &st));
    else OK(MPI_File_read_all(fh, back, 1, mt, &st));
    CHECK(memcmp(back, mem, sizeof(int) * mtot) == 0, "%s: read back differs (ghosts untouched?)", nm);
    /* nonblocking collective read too */
    MPI_Request rq;
    for (int i = 0; i < mtot; i++) back[i] = -1;
    OK(MPI_File_iread_at_all(fh, 0, back, 1, mt, &rq));
    OK(MPI_Wait(&rq, &st));
    CHECK(memcmp(back, mem, sizeof(int) * mtot) == 0, "%s: iread_at_all differs", nm);
    OK(MPI_File_close(&fh));
    free(mem);
    free(back);
    MPI_Type_free(&ft);
    MPI_Type_free(&mt);
}

/* ---- 3. structs: records {int id; double v; char tag} interleaved by rank ---- */
struct rec { int id; double v; char tag; };
#define NR 40

static void structs(int independent) {
    char nm[64];
    snprintf(nm, sizeof nm, "struct-%s", independent ? "ind" : "coll");
    fresh(nm);
    /* memory type: the C struct; file etype: the packed 13 bytes */
    int bl[3] = {1, 1, 1};
    MPI_Aint md[3] = {offsetof(struct rec, id), offsetof(struct rec, v), offsetof(struct rec, tag)};
    MPI_Datatype ty[3] = {MPI_INT, MPI_DOUBLE, MPI_CHAR}, mrec0, mrec, frec, ft;
    MPI_Type_create_struct(3, bl, md, ty, &mrec0);
    MPI_Type_create_resized(mrec0, 0, sizeof(struct rec), &mrec);
    MPI_Type_commit(&mrec);
    MPI_Aint fd[3] = {0, 4, 12};
    MPI_Type_create_struct(3, bl, fd, ty, &frec);
    MPI_Type_commit(&frec);
    /* filetype: one record at rank's slot of every group of size records */
    int b1 = 1;
    MPI_Aint d0 = 0;
    MPI_Datatype one;
    MPI_Type_create_struct(1, &b1, &d0, &frec, &one);
    MPI_Type_create_resized(one, 0, 13 * size, &ft);
    MPI_Type_commit(&ft);
    struct rec r[NR], b[NR];
    memset(r, 0, sizeof r);
    for (int i = 0; i < NR; i++) { r[i].id = rank * 1000 + i; r[i].v = rank + i / 8.0; r[i].tag = 'a' + (rank + i) % 26; }
    MPI_File fh;
    MPI_Status st;
    OK(MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_RDWR, hints, &fh));
    OK(MPI_File_set_view(fh, 13 * rank, frec, ft, "native", hints));
    if (independent) OK(MPI_File_write_at(fh, 0, r, NR, mrec, &st));
    else OK(MPI_File_write_at_all(fh, 0, r, NR, mrec, &st));
    OK(MPI_File_sync(fh));
    MPI_Barrier(MPI_COMM_WORLD);
    OK(MPI_File_sync(fh));
    /* check the bytes: rank 0 reads the file plainly */
    if (rank == 0) {
        int n = 13 * NR * size;
        unsigned char *all = malloc(n);
        MPI_File f0;
        OK(MPI_File_open(MPI_COMM_SELF, path, MPI_MODE_RDONLY, MPI_INFO_NULL, &f0));
        OK(MPI_File_read_at(f0, 0, all, n, MPI_BYTE, &st));
        OK(MPI_File_close(&f0));
        int bad = 0;
        for (int k = 0; k < NR * size && bad < 5; k++) {
            int who = k % size, i = k / size, id;
            double v;
            memcpy(&id, all + 13 * k, 4);
            memcpy(&v, all + 13 * k + 4, 8);
            char tag = all[13 * k + 12];
            if (id != who * 1000 + i || v != who + i / 8.0 || tag != 'a' + (who + i) % 26) { bad++; CHECK(0, "%s: record %d wrong (id %d)", nm, k, id); }
        }
        free(all);
    }
    memset(b, 0, sizeof b);
    if (independent) OK(MPI_File_read_at(fh, 0, b, NR, mrec, &st));
    else OK(MPI_File_read_at_all(fh, 0, b, NR, mrec, &st));
    int bad = 0;
    for (int i = 0; i < NR; i++) bad += b[i].id != r[i].id || b[i].v != r[i].v || b[i].tag != r[i].tag;
    CHECK(bad == 0, "%s: %d records read back wrong", nm, bad);
    MPI_Aint ext;
    OK(MPI_File_get_type_extent(fh, mrec, &ext));
    CHECK(ext == sizeof(struct rec), "%s: type extent %ld", nm, (long)ext);
    OK(MPI_File_close(&fh));
    MPI_Type_free(&mrec0); MPI_Type_free(&mrec); MPI_Type_free(&frec); MPI_Type_free(&one); MPI_Type_free(&ft);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc > 1) setenv("IO_DIR", argv[1], 1);
    if (!getenv("IO_DIR")) setenv("IO_DIR", "/tmp", 1);
    MPI_Info_create(&hints);
    if (argc > 2 && strcmp(argv[2], "small") == 0) {
        MPI_Info_set(hints, "cb_buffer_size", "64");
        MPI_Info_set(hints, "cb_nodes", "2");
        MPI_Info_set(hints, "romio_cb_write", "enable");
        MPI_Info_set(hints, "romio_cb_read", "enable");
        MPI_Info_set(hints, "romio_ds_write", "enable");
        MPI_Info_set(hints, "romio_ds_read", "enable");
        MPI_Info_set(hints, "ind_wr_buffer_size", "256");
    }
    for (int m = 0; m < 6; m++) vectors(m);
    holes();
    G[0] = 13; G[1] = 17;
    subarrays(2, 0);
    subarrays(2, 1);
    G[0] = 7; G[1] = 9; G[2] = 11;
    subarrays(3, 0);
    subarrays(3, 1);
    structs(0);
    structs(1);
    if (rank == 0) {
        const char *names[] = {"vec-write_all", "vec-write_at", "vec-iwrite_at", "vec-write_all_begin", "vec-iwrite_all", "vec-write",
                               "sub2d-coll", "sub2d-ind", "sub3d-coll", "sub3d-ind", "struct-coll", "struct-ind", "holes"};
        for (int i = 0; i < 13; i++) {
            snprintf(path, sizeof path, "%s/%s", getenv("IO_DIR"), names[i]);
            OK(MPI_File_delete(path, MPI_INFO_NULL));
        }
    }
    MPI_Info_free(&hints);
    int all;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (all == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return all != 0;
}
