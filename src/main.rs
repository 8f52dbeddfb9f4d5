use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = tlsdoctor::cli::Cli::parse();
    match tlsdoctor::commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        // The reader went away (`| head`): nothing left to say, and nobody to say it to.
        Err(e) if tlsdoctor::commands::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tlsdoctor: error: {e:#}");
            ExitCode::from(tlsdoctor::exit::USAGE)
        }
    }
}
