use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = tlsdoctor::cli::Cli::parse();
    match tlsdoctor::commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("tlsdoctor: error: {e:#}");
            ExitCode::from(tlsdoctor::exit::USAGE)
        }
    }
}
