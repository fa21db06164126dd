/* MPI_Pack_external / MPI_Unpack_external / MPI_Pack_external_size with
 * "external32" follow MPI-3.1 Table 13.2: MPI_LONG and MPI_UNSIGNED_LONG are 4
 * bytes, big-endian; MPI_LONG_DOUBLE is 16 (IEEE binary128); MPI_AINT, MPI_OFFSET
 * and MPI_COUNT 8; MPI_WCHAR 2; MPI_C_BOOL 1. A long that does not fit in 4 bytes
 * keeps its low 32 bits, as in MPICH, and unpacks sign-extended (MPI_LONG) or
 * zero-extended (MPI_UNSIGNED_LONG). Every rank prints the same bytes, compared
 * line for line with MPICH. MPICH's MPI_Pack_external of MPI_WCHAR fails an
 * assertion, it gives the pair types (MPI_LONG_INT...) size 0, unpacks a
 * vector of MPI_LONG into its gaps and crashes on the external32 size of a
 * struct, and packs 12 bytes into an 11-byte buffer without an error: those are
 * checked under vmpi only (2-byte wchar, the pair as its two members, derived
 * types element by element, the short buffer an error). */
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <stdbool.h>
#include <stddef.h>
#include <wchar.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

static void dump(const char *what, const unsigned char *b, MPI_Aint n) {
    if (rank != 0) return;
    printf("%s (%ld):", what, (long)n);
    for (MPI_Aint i = 0; i < n; i++) printf(" %02x", b[i]);
    printf("\n");
}

static MPI_Aint xsize(MPI_Datatype t, int n) {
    MPI_Aint s = -1;
    CHECK(MPI_Pack_external_size("external32", n, t, &s) == MPI_SUCCESS);
    return s;
}

int main(int argc, char **argv) {
    int size;
    unsigned char out[256];
    MPI_Aint pos, p2;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    /* Table 13.2 sizes */
    struct { MPI_Datatype t; const char *name; MPI_Aint want; } sz[] = {
        {MPI_PACKED, "MPI_PACKED", 1}, {MPI_BYTE, "MPI_BYTE", 1}, {MPI_CHAR, "MPI_CHAR", 1},
        {MPI_UNSIGNED_CHAR, "MPI_UNSIGNED_CHAR", 1}, {MPI_SIGNED_CHAR, "MPI_SIGNED_CHAR", 1},
        {MPI_WCHAR, "MPI_WCHAR", 2}, {MPI_SHORT, "MPI_SHORT", 2}, {MPI_UNSIGNED_SHORT, "MPI_UNSIGNED_SHORT", 2},
        {MPI_INT, "MPI_INT", 4}, {MPI_UNSIGNED, "MPI_UNSIGNED", 4}, {MPI_LONG, "MPI_LONG", 4},
        {MPI_UNSIGNED_LONG, "MPI_UNSIGNED_LONG", 4}, {MPI_LONG_LONG_INT, "MPI_LONG_LONG_INT", 8},
        {MPI_UNSIGNED_LONG_LONG, "MPI_UNSIGNED_LONG_LONG", 8}, {MPI_FLOAT, "MPI_FLOAT", 4},
        {MPI_DOUBLE, "MPI_DOUBLE", 8}, {MPI_LONG_DOUBLE, "MPI_LONG_DOUBLE", 16}, {MPI_C_BOOL, "MPI_C_BOOL", 1},
        {MPI_INT8_T, "MPI_INT8_T", 1}, {MPI_INT16_T, "MPI_INT16_T", 2}, {MPI_INT32_T, "MPI_INT32_T", 4},
        {MPI_INT64_T, "MPI_INT64_T", 8}, {MPI_UINT8_T, "MPI_UINT8_T", 1}, {MPI_UINT16_T, "MPI_UINT16_T", 2},
        {MPI_UINT32_T, "MPI_UINT32_T", 4}, {MPI_UINT64_T, "MPI_UINT64_T", 8}, {MPI_AINT, "MPI_AINT", 8},
        {MPI_COUNT, "MPI_COUNT", 8}, {MPI_OFFSET, "MPI_OFFSET", 8},
        {MPI_C_FLOAT_COMPLEX, "MPI_C_FLOAT_COMPLEX", 8}, {MPI_C_DOUBLE_COMPLEX, "MPI_C_DOUBLE_COMPLEX", 16},
        {MPI_C_LONG_DOUBLE_COMPLEX, "MPI_C_LONG_DOUBLE_COMPLEX", 32}, {MPI_CHARACTER, "MPI_CHARACTER", 1},
        {MPI_LOGICAL, "MPI_LOGICAL", 4}, {MPI_INTEGER, "MPI_INTEGER", 4}, {MPI_REAL, "MPI_REAL", 4},
        {MPI_DOUBLE_PRECISION, "MPI_DOUBLE_PRECISION", 8}, {MPI_COMPLEX, "MPI_COMPLEX", 8},
        {MPI_DOUBLE_COMPLEX, "MPI_DOUBLE_COMPLEX", 16}, {MPI_INTEGER8, "MPI_INTEGER8", 8},
        {MPI_REAL16, "MPI_REAL16", 16}, {MPI_CXX_BOOL, "MPI_CXX_BOOL", 1},
    };
    for (unsigned i = 0; i < sizeof sz / sizeof *sz; i++) {
        MPI_Aint s = xsize(sz[i].t, 3);
        if (s != 3 * sz[i].want) {
            fails++;
            printf("rank %d: FAIL external32 size of 3 %s: %ld, not %ld\n", rank, sz[i].name, (long)s, (long)(3 * sz[i].want));
        }
        if (rank == 0) printf("external32 size %s: %ld\n", sz[i].name, (long)xsize(sz[i].t, 1));
    }

    /* MPI_LONG: 4 bytes big-endian; out-of-range values keep their low 32 bits */
    {
        long v[4] = {1, -2, 0x12345678L, 0x123456789L}, back[4] = {0};
        pos = 0;
        CHECK(MPI_Pack_external("external32", v, 4, MPI_LONG, out, sizeof out, &pos) == MPI_SUCCESS);
        CHECK(pos == 16);
        static const unsigned char want[16] = {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe, 0x12, 0x34, 0x56, 0x78, 0x23, 0x45, 0x67, 0x89};
        CHECK(!memcmp(out, want, 16));
        dump("MPI_LONG 1 -2 0x12345678 0x123456789", out, pos);
        p2 = 0;
        CHECK(MPI_Unpack_external("external32", out, pos, &p2, back, 4, MPI_LONG) == MPI_SUCCESS);
        CHECK(p2 == pos);
        CHECK(back[0] == 1 && back[1] == -2 && back[2] == 0x12345678L && back[3] == 0x23456789L);
        long big = 0x80000000L; /* low 32 bits read back as a negative long */
        pos = 0; MPI_Pack_external("external32", &big, 1, MPI_LONG, out, sizeof out, &pos);
        p2 = 0; MPI_Unpack_external("external32", out, pos, &p2, back, 1, MPI_LONG);
        CHECK(back[0] == -2147483648L);
    }
    /* MPI_UNSIGNED_LONG */
    {
        unsigned long v[2] = {0xfffffffful, 0x100000001ul}, back[2] = {0};
        pos = 0;
        CHECK(MPI_Pack_external("external32", v, 2, MPI_UNSIGNED_LONG, out, sizeof out, &pos) == MPI_SUCCESS);
        CHECK(pos == 8);
        dump("MPI_UNSIGNED_LONG 0xffffffff 0x100000001", out, pos);
        p2 = 0;
        MPI_Unpack_external("external32", out, pos, &p2, back, 2, MPI_UNSIGNED_LONG);
        CHECK(back[0] == 0xfffffffful && back[1] == 1);
    }
    /* the other table entries: long double (binary128), Aint/Offset/Count, bool, short */
    {
        long double ld[2] = {1.5L, -0.25L}, lb[2] = {0};
        pos = 0;
        CHECK(MPI_Pack_external("external32", ld, 2, MPI_LONG_DOUBLE, out, sizeof out, &pos) == MPI_SUCCESS);
        CHECK(pos == 32 && out[0] == 0x3f && out[1] == 0xff && out[2] == 0x80);
        dump("MPI_LONG_DOUBLE 1.5 -0.25", out, pos);
        p2 = 0;
        MPI_Unpack_external("external32", out, pos, &p2, lb, 2, MPI_LONG_DOUBLE);
        CHECK(lb[0] == 1.5L && lb[1] == -0.25L);
        MPI_Aint a = 0x0102030405060708;
        MPI_Offset o = -2;
        MPI_Count c = 0x1122334455667788;
        pos = 0;
        MPI_Pack_external("external32", &a, 1, MPI_AINT, out, sizeof out, &pos);
        MPI_Pack_external("external32", &o, 1, MPI_OFFSET, out, sizeof out, &pos);
        MPI_Pack_external("external32", &c, 1, MPI_COUNT, out, sizeof out, &pos);
        CHECK(pos == 24 && out[0] == 1 && out[7] == 8 && out[8] == 0xff && out[15] == 0xfe && out[16] == 0x11);
        dump("MPI_AINT MPI_OFFSET MPI_COUNT", out, pos);
        bool b[2] = {true, false};
        short sh = 0x0102;
        pos = 0;
        MPI_Pack_external("external32", b, 2, MPI_C_BOOL, out, sizeof out, &pos);
        MPI_Pack_external("external32", &sh, 1, MPI_SHORT, out, sizeof out, &pos);
        CHECK(pos == 4 && out[0] == 1 && out[1] == 0 && out[2] == 1 && out[3] == 2);
        dump("MPI_C_BOOL MPI_SHORT", out, pos);
    }
    char ver[MPI_MAX_LIBRARY_VERSION_STRING];
    int vlen;
    MPI_Get_library_version(ver, &vlen);
    if (strstr(ver, "vmpi")) {
        /* too small an output buffer: an error (MPICH returns MPI_SUCCESS) */
        {
            MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
            long v[3] = {1, 2, 3};
            pos = 0;
            int rc = MPI_Pack_external("external32", v, 3, MPI_LONG, out, 11, &pos);
            CHECK(rc != MPI_SUCCESS);
            pos = 0;
            CHECK(MPI_Pack_external("external32", v, 3, MPI_LONG, out, 12, &pos) == MPI_SUCCESS && pos == 12);
        }
        /* derived types of longs: a vector, and a struct {long, int, long} */
        {
            MPI_Datatype vt;
            MPI_Type_vector(3, 1, 2, MPI_LONG, &vt);
            MPI_Type_commit(&vt);
            CHECK(xsize(vt, 2) == 24);
            /* two vectors (extent 5 longs) take elements 0 2 4 and 5 7 9 */
            static const int in[12] = {1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0};
            long v[12], back[12];
            for (int i = 0; i < 12; i++) v[i] = in[i] ? 100 + i : -1, back[i] = 7;
            pos = 0;
            CHECK(MPI_Pack_external("external32", v, 2, vt, out, sizeof out, &pos) == MPI_SUCCESS);
            CHECK(pos == 24);
            p2 = 0;
            CHECK(MPI_Unpack_external("external32", out, pos, &p2, back, 2, vt) == MPI_SUCCESS);
            CHECK(out[3] == 100 && out[7] == 102 && out[23] == 109);
            for (int i = 0; i < 12; i++) CHECK(back[i] == (in[i] ? 100 + i : 7));
            MPI_Type_free(&vt);

            struct s { long a; int b; long c; } sv[2] = {{-3, 4, 5}, {6, -7, 0x7fffffffL}}, sb[2];
            int bl[3] = {1, 1, 1};
            MPI_Aint d[3] = {offsetof(struct s, a), offsetof(struct s, b), offsetof(struct s, c)};
            MPI_Datatype tt[3] = {MPI_LONG, MPI_INT, MPI_LONG}, st;
            MPI_Type_create_struct(3, bl, d, tt, &st);
            MPI_Type_commit(&st);
            CHECK(xsize(st, 2) == 24);
            pos = 0;
            CHECK(MPI_Pack_external("external32", sv, 2, st, out, sizeof out, &pos) == MPI_SUCCESS);
            CHECK(pos == 24);
            memset(sb, 0, sizeof sb);
            p2 = 0;
            CHECK(MPI_Unpack_external("external32", out, pos, &p2, sb, 2, st) == MPI_SUCCESS);
            CHECK(sb[0].a == -3 && sb[0].b == 4 && sb[0].c == 5 && sb[1].a == 6 && sb[1].b == -7 && sb[1].c == 0x7fffffffL);
            MPI_Type_free(&st);
        }
        wchar_t w[2] = {L'A', 0x1F600}, wb[2] = {0};
        pos = 0;
        CHECK(MPI_Pack_external("external32", w, 2, MPI_WCHAR, out, sizeof out, &pos) == MPI_SUCCESS);
        CHECK(pos == 4 && out[0] == 0 && out[1] == 'A' && out[2] == 0xf6 && out[3] == 0x00);
        p2 = 0;
        CHECK(MPI_Unpack_external("external32", out, pos, &p2, wb, 2, MPI_WCHAR) == MPI_SUCCESS);
        CHECK(wb[0] == L'A' && wb[1] == 0xf600);
        CHECK(xsize(MPI_LONG_INT, 1) == 8 && xsize(MPI_DOUBLE_INT, 1) == 12 && xsize(MPI_2INT, 2) == 16);
        struct { long l; int i; } li = {-9, 10}, lb2 = {0, 0};
        pos = 0;
        CHECK(MPI_Pack_external("external32", &li, 1, MPI_LONG_INT, out, sizeof out, &pos) == MPI_SUCCESS && pos == 8);
        CHECK(out[3] == 0xf7 && out[7] == 10);
        p2 = 0;
        MPI_Unpack_external("external32", out, pos, &p2, &lb2, 1, MPI_LONG_INT);
        CHECK(lb2.l == -9 && lb2.i == 10);
    }

    if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return fails != 0;
}
