fn main() {
    std::process::exit(odooops::cli::main());
}
