//! The simulated `az` on its own: the same program goldsmith answers as when
//! invoked by the name `az`, built for this crate's tests.

fn main() {
    std::process::exit(az_sim::az_main(std::env::args_os().skip(1).collect()));
}
