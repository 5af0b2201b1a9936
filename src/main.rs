fn main() {
    std::process::exit(goldsmith::cli::main());
}
