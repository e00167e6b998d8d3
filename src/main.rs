use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    meshctl::install_crypto_provider();
    meshctl::install_panic_hook();
    let code = match meshctl::cli::Cli::try_parse() {
        Ok(cli) => meshctl::exit::exit_code(&cli.run()),
        Err(error) => meshctl::output::report_clap_error(error),
    };
    ExitCode::from(code)
}
