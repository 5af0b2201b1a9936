fn main() {
    // Under `--simulate`, goldsmith puts a link named `az` to itself first on
    // the operations' PATH: invoked by that name it is the simulated Azure CLI.
    let mut args = std::env::args_os();
    let invoked_as = args.next().and_then(|a| {
        std::path::Path::new(&a)
            .file_name()
            .map(|n| n.to_os_string())
    });
    if invoked_as.as_deref() == Some(std::ffi::OsStr::new("az")) {
        std::process::exit(goldsmith::azure::sim::az_main(args.collect()));
    }
    std::process::exit(goldsmith::cli::main());
}
