//! Writes the seed corpus of every fuzz target: `write_seeds <dir>` makes `<dir>/<target>/<seed>`.

#[path = "../tests/support/seeds.rs"]
mod seeds;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(directory) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: write_seeds <corpus directory>");
        return ExitCode::from(2);
    };
    for target in seeds::TARGETS {
        if let Err(error) = std::fs::create_dir_all(directory.join(target)) {
            eprintln!(
                "cannot create {}: {error}",
                directory.join(target).display()
            );
            return ExitCode::FAILURE;
        }
    }
    for seed in seeds::all() {
        let target_directory = directory.join(seed.target);
        let written = std::fs::write(
            target_directory.join(format!("seed-{}", seed.name)),
            &seed.bytes,
        );
        if let Err(error) = written {
            eprintln!("cannot write seed {}/{}: {error}", seed.target, seed.name);
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
