//! The supervisor every operation process runs under (`goldsmith::run::supervisor`),
//! as a binary of its own: it holds only the supervisor's code, so it starts in
//! about half the time the whole goldsmith binary takes, once per operation.
//! goldsmith runs it with the same arguments as its own `__goldsmith-supervise`
//! mode, and falls back to that mode when this binary is not beside it.

fn main() {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(std::ffi::OsStr::new(goldsmith::run::supervisor::ARG)) {
        eprintln!(
            "goldsmith-supervise is internal to goldsmith; it is not meant to be run by hand"
        );
        std::process::exit(2);
    }
    std::process::exit(goldsmith::run::supervisor::main(args.collect()));
}
