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
            I64 | U64 | F64 | ComplexF32 | TwoInt | TwoInteger | TwoReal => 8,
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
            I64 | U64 | F64 | ComplexF64 | TwoDouble | DoubleInt | LongInt => 8,
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
}
