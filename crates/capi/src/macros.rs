//! `mpi_fn!` defines `PMPI_x` with its body and `MPI_x` as a call to it. The body
//! returns `err::R<()>`; an error goes to the error handler of the communicator
//! named by the expression before `=>`, with the call's arguments for the message.

macro_rules! mpi_fn {
    ($eh:expr => fn $name:ident / $pname:ident ( $($a:ident : $t:ty),* $(,)? ) $body:block) => {
        #[no_mangle]
        pub unsafe extern "C" fn $pname($($a: $t),*) -> ::std::os::raw::c_int {
            #[allow(unused_mut)]
            let r: $crate::err::R<()> = (|| $body)();
            match r {
                Ok(()) => 0,
                Err(e) => {
                    let args: Vec<String> = vec![$( format!("{}={}", stringify!($a), $crate::err::Arg(&$a)) ),*];
                    $crate::err::raise(stringify!($name), &args.join(", "), $eh, e)
                }
            }
        }
        #[no_mangle]
        pub unsafe extern "C" fn $name($($a: $t),*) -> ::std::os::raw::c_int {
            $pname($($a),*)
        }
    };
}

/// A function that returns something else than an error code (MPI_Wtime, the
/// handle conversions): `PMPI_x` with the body, `MPI_x` calling it.
macro_rules! mpi_plain {
    (fn $name:ident / $pname:ident ( $($a:ident : $t:ty),* $(,)? ) -> $ret:ty $body:block) => {
        #[no_mangle]
        pub unsafe extern "C" fn $pname($($a: $t),*) -> $ret $body
        #[no_mangle]
        pub unsafe extern "C" fn $name($($a: $t),*) -> $ret {
            $pname($($a),*)
        }
    };
}

/// `mpi_fn!` for calls whose errors go to the handler of another kind of object
/// (a file, a window): `$raise(call, args, handle, error)`, with the handle the
/// expression before `=>` gives, taken before the body runs.
macro_rules! object_fn {
    ($raise:path, $ty:ty, $h:expr => fn $name:ident / $pname:ident ( $($a:ident : $t:ty),* $(,)? ) $body:block) => {
        #[no_mangle]
        pub unsafe extern "C" fn $pname($($a: $t),*) -> ::std::os::raw::c_int {
            let handle_for_errors: $ty = $h;
            #[allow(unused_mut, clippy::redundant_closure_call)]
            let r: $crate::err::R<()> = (|| $body)();
            match r {
                Ok(()) => 0,
                Err(e) => {
                    let args: Vec<String> = vec![$( format!("{}={}", stringify!($a), $crate::err::Arg(&$a)) ),*];
                    $raise(stringify!($name), &args.join(", "), handle_for_errors, e)
                }
            }
        }
        #[no_mangle]
        pub unsafe extern "C" fn $name($($a: $t),*) -> ::std::os::raw::c_int {
            $pname($($a),*)
        }
    };
}
