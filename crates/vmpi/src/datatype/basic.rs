//! The predefined element types: what a reduction computes on and what a derived
//! datatype is ultimately made of. Sizes and alignments are those of x86-64 Linux
//! (the MPICH ABI target).

/// One kind of predefined element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Basic {
    /// C `char` (MPI_CHAR, MPI_CHARACTER): text; reductions are not defined on it.
    Char,
    I8,
    U8,
    /// MPI_BYTE and MPI_PACKED: raw bytes; only bitwise reductions are defined.
    Byte,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
    /// x87 extended precision in 16 bytes (MPI_LONG_DOUBLE, MPI_REAL16).
    LongDouble,
    /// C `_Bool` / C++ `bool` / Fortran LOGICAL (4 bytes): logical reductions.
    CBool,
    /// Fortran LOGICAL (4 bytes, 0 = false).
    Logical,
    /// `wchar_t` (4 bytes on Linux): no arithmetic reductions.
    WChar,
    ComplexF32,
    ComplexF64,
    ComplexLongDouble,
    /// MINLOC/MAXLOC pairs: value then `int` index, C struct layout (padding included).
    FloatInt,
    DoubleInt,
    LongInt,
    TwoInt,
    ShortInt,
    LongDoubleInt,
    /// Fortran pairs (2INTEGER, 2REAL, 2DOUBLE_PRECISION).
    TwoInteger,
    TwoReal,
    TwoDouble,
    /// C `long` / `unsigned long` (MPI_LONG, MPI_UNSIGNED_LONG): 8 bytes here, the
    /// same arithmetic as I64 / U64, but 4 bytes in external32 (MPI-3.1 Table 13.2),
    /// where `long long`, `int64_t` and the address types stay 8.
    Long,
    ULong,
}

impl Basic {
    /// Size in bytes (the extent of the predefined type).
    pub fn size(self) -> usize {
        use Basic::*;
        match self {
            Char | I8 | U8 | Byte => 1,
            I16 | U16 => 2,
            I32 | U32 | F32 | WChar | Logical => 4,
            CBool => 1,
            I64 | U64 | Long | ULong | F64 | ComplexF32 | TwoInt | TwoInteger | TwoReal => 8,
            LongDouble | ComplexF64 | TwoDouble | DoubleInt | LongInt => 16,
            FloatInt | ShortInt => 8,
            ComplexLongDouble | LongDoubleInt => 32,
        }
    }

    /// Alignment in bytes (for struct datatypes' extent padding).
    pub fn align(self) -> usize {
        use Basic::*;
        match self {
            Char | I8 | U8 | Byte | CBool => 1,
            I16 | U16 => 2,
            I32 | U32 | F32 | WChar | Logical | ComplexF32 | TwoInt | TwoInteger | TwoReal
            | FloatInt | ShortInt => 4,
            I64 | U64 | Long | ULong | F64 | ComplexF64 | TwoDouble | DoubleInt | LongInt => 8,
            LongDouble | ComplexLongDouble | LongDoubleInt => 16,
        }
    }

    /// Bytes that carry data (the pair types with padding carry fewer than `size`).
    pub fn data_bytes(self) -> usize {
        use Basic::*;
        match self {
            DoubleInt | LongInt => 12,
            ShortInt => 6,
            LongDoubleInt => 20,
            LongDouble => 10,
            ComplexLongDouble => 20,
            _ => self.size(),
        }
    }

    /// Is this a MINLOC/MAXLOC pair type?
    pub fn is_pair(self) -> bool {
        use Basic::*;
        matches!(
            self,
            FloatInt
                | DoubleInt
                | LongInt
                | TwoInt
                | ShortInt
                | LongDoubleInt
                | TwoInteger
                | TwoReal
                | TwoDouble
        )
    }
}

/// How one part of a predefined element is represented in external32 (MPI-3.1 §13.5.2:
/// big-endian, IEEE formats; sizes of Table 13.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repr {
    /// Bytes copied as they are (characters, bytes, `bool`).
    Raw,
    /// A little-endian integer or IEEE float, byte-swapped to big-endian.
    Swap,
    /// x87 80-bit extended precision in 16 bytes, converted to IEEE binary128.
    X87,
    /// A little-endian signed integer stored in fewer big-endian bytes (`long` in 4):
    /// packing keeps the low bytes (a value that does not fit wraps, as in MPICH),
    /// unpacking sign-extends.
    Narrow,
    /// The same for an unsigned integer (`unsigned long` in 4, `wchar_t` in 2):
    /// unpacking zero-extends.
    NarrowU,
}

/// One data-carrying part of a predefined element: `len` bytes at `off`, `ext`
/// bytes in external32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub off: usize,
    pub len: usize,
    pub repr: Repr,
    pub ext: usize,
}

const fn part(off: usize, len: usize, repr: Repr) -> Part {
    Part {
        off,
        len,
        repr,
        ext: len,
    }
}

const fn narrow(off: usize, len: usize, repr: Repr, ext: usize) -> Part {
    Part {
        off,
        len,
        repr,
        ext,
    }
}

impl Basic {
    /// Every predefined element kind (in declaration order: `b as usize` indexes it).
    pub const ALL: [Basic; 30] = {
        use Basic::*;
        [
            Char,
            I8,
            U8,
            Byte,
            I16,
            U16,
            I32,
            U32,
            I64,
            U64,
            F32,
            F64,
            LongDouble,
            CBool,
            Logical,
            WChar,
            ComplexF32,
            ComplexF64,
            ComplexLongDouble,
            FloatInt,
            DoubleInt,
            LongInt,
            TwoInt,
            ShortInt,
            LongDoubleInt,
            TwoInteger,
            TwoReal,
            TwoDouble,
            Long,
            ULong,
        ]
    };

    /// The data-carrying parts of one element, in type-map order (pair types: value,
    /// then index, with the C struct padding between or after them left out).
    pub fn parts(self) -> &'static [Part] {
        use Basic::*;
        use Repr::*;
        const RAW1: [Part; 1] = [part(0, 1, Raw)];
        const S2: [Part; 1] = [part(0, 2, Swap)];
        const S4: [Part; 1] = [part(0, 4, Swap)];
        const S8: [Part; 1] = [part(0, 8, Swap)];
        const LD: [Part; 1] = [part(0, 16, X87)];
        const S4S4: [Part; 2] = [part(0, 4, Swap), part(4, 4, Swap)];
        const S8S8: [Part; 2] = [part(0, 8, Swap), part(8, 8, Swap)];
        const S8S4: [Part; 2] = [part(0, 8, Swap), part(8, 4, Swap)];
        const S2S4: [Part; 2] = [part(0, 2, Swap), part(4, 4, Swap)];
        const LDLD: [Part; 2] = [part(0, 16, X87), part(16, 16, X87)];
        const LDS4: [Part; 2] = [part(0, 16, X87), part(16, 4, Swap)];
        const L4: [Part; 1] = [narrow(0, 8, Narrow, 4)];
        const UL4: [Part; 1] = [narrow(0, 8, NarrowU, 4)];
        const WC2: [Part; 1] = [narrow(0, 4, NarrowU, 2)];
        const L4S4: [Part; 2] = [narrow(0, 8, Narrow, 4), part(8, 4, Swap)];
        match self {
            Char | I8 | U8 | Byte | CBool => &RAW1,
            I16 | U16 => &S2,
            I32 | U32 | F32 | Logical => &S4,
            WChar => &WC2,
            I64 | U64 | F64 => &S8,
            Long => &L4,
            ULong => &UL4,
            LongDouble => &LD,
            ComplexF32 | FloatInt | TwoInt | TwoInteger | TwoReal => &S4S4,
            ComplexF64 | TwoDouble => &S8S8,
            ComplexLongDouble => &LDLD,
            DoubleInt => &S8S4,
            LongInt => &L4S4,
            ShortInt => &S2S4,
            LongDoubleInt => &LDS4,
        }
    }

    /// Bytes of one element in external32 (MPI-3.1 Table 13.2: MPI_LONG 4,
    /// MPI_WCHAR 2, MPI_LONG_INT 8).
    pub fn ext_size(self) -> usize {
        self.parts().iter().map(|p| p.ext).sum()
    }

    /// Bytes of data in one element as MPI counts them (`MPI_Type_size`): the parts
    /// without padding (MPI_DOUBLE_INT: 12, its extent 16).
    pub fn mpi_size(self) -> usize {
        self.parts().iter().map(|p| p.len).sum()
    }

    /// The data of one element as contiguous byte runs `(offset, len)`, adjacent parts
    /// merged (MPI_SHORT_INT: two runs, MPI_DOUBLE_INT: one run of 12).
    pub fn runs(self) -> &'static [(usize, usize)] {
        use Basic::*;
        const SI: [(usize, usize); 2] = [(0, 2), (4, 4)];
        const TWELVE: [(usize, usize); 1] = [(0, 12)];
        const TWENTY: [(usize, usize); 1] = [(0, 20)];
        const ONE: [[(usize, usize); 1]; 6] =
            [[(0, 1)], [(0, 2)], [(0, 4)], [(0, 8)], [(0, 16)], [(0, 32)]];
        match self {
            ShortInt => &SI,
            DoubleInt | LongInt => &TWELVE,
            LongDoubleInt => &TWENTY,
            _ => match self.size() {
                1 => &ONE[0],
                2 => &ONE[1],
                4 => &ONE[2],
                8 => &ONE[3],
                16 => &ONE[4],
                _ => &ONE[5],
            },
        }
    }

    /// Whether n consecutive elements are one run of `n * size()` bytes (no padding).
    pub fn dense(self) -> bool {
        self.mpi_size() == self.size()
    }

    /// How many elements `MPI_Get_elements` counts in one of these. MPICH builds the C
    /// MINLOC/MAXLOC pairs (FLOAT_INT, DOUBLE_INT, LONG_INT, SHORT_INT, LONG_DOUBLE_INT)
    /// as structs of two basic elements; 2INT and the Fortran pairs are single elements.
    pub fn element_parts(self) -> usize {
        use Basic::*;
        match self {
            FloatInt | DoubleInt | LongInt | ShortInt | LongDoubleInt => 2,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_layouts() {
        #[repr(C)]
        struct DI(f64, i32);
        #[repr(C)]
        struct SI(i16, i32);
        #[repr(C)]
        struct LI(i64, i32);
        assert_eq!(Basic::DoubleInt.size(), std::mem::size_of::<DI>());
        assert_eq!(Basic::ShortInt.size(), std::mem::size_of::<SI>());
        assert_eq!(Basic::LongInt.size(), std::mem::size_of::<LI>());
        assert_eq!(Basic::LongDouble.size(), 16);
    }
    #[test]
    fn parts_cover_mpi_sizes() {
        for (i, b) in Basic::ALL.iter().enumerate() {
            assert_eq!(*b as usize, i, "ALL is in declaration order");
            let parts = b.parts();
            let run_sum: usize = b.runs().iter().map(|r| r.1).sum();
            assert_eq!(run_sum, b.mpi_size(), "{b:?}");
            assert!(parts.iter().all(|p| p.off + p.len <= b.size()), "{b:?}");
            if b.is_pair() {
                assert_eq!(b.mpi_size(), b.data_bytes(), "{b:?}");
            } else {
                assert_eq!(b.mpi_size(), b.size(), "{b:?}");
            }
        }
        assert_eq!(Basic::ShortInt.mpi_size(), 6);
        assert_eq!(Basic::Long.ext_size(), 4);
        assert_eq!(Basic::ULong.ext_size(), 4);
        assert_eq!(Basic::WChar.ext_size(), 2);
        assert_eq!(Basic::LongInt.ext_size(), 8);
        assert_eq!(Basic::I64.ext_size(), 8);
        assert_eq!(Basic::LongDouble.ext_size(), 16);
        assert!(!Basic::DoubleInt.dense());
        assert!(Basic::FloatInt.dense());
    }
}
