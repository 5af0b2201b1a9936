fn main() {
    let mut args = std::env::args_os();
    let invoked_as = args.next().and_then(|a| {
        std::path::Path::new(&a)
            .file_name()
            .map(|n| n.to_os_string())
    });
    let args: Vec<std::ffi::OsString> = args.collect();
    // Under `--simulate`, goldsmith puts a link named `az` to itself first on
    // the operations' PATH: invoked by that name it is the simulated Azure CLI.
    if invoked_as.as_deref() == Some(std::ffi::OsStr::new("az")) {
        std::process::exit(az_sim::az_main(args));
    }
    // Every operation process runs under goldsmith itself as its guardian.
    if let Some((first, rest)) = args.split_first()
        && first == goldsmith::run::supervisor::ARG
    {
        std::process::exit(goldsmith::run::supervisor::main(rest.to_vec()));
    }
    std::process::exit(goldsmith::cli::main());
}
