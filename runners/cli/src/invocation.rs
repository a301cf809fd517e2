//! The command line this process was started with, recorded in the results it writes so a
//! report can print how to reproduce it.

use filterbench_harness::environment::Environment;
use filterbench_harness::results::Invocation;

/// The cargo features this executable was built with.
pub fn features() -> Vec<String> {
    [
        ("wasmtime", cfg!(feature = "wasmtime")),
        ("wasmer", cfg!(feature = "wasmer")),
        ("wasmer-llvm", cfg!(feature = "wasmer-llvm")),
        ("wasmi", cfg!(feature = "wasmi")),
        ("wamr", cfg!(feature = "wamr")),
        ("wamr-llvm", cfg!(feature = "wamr-llvm")),
        ("native", cfg!(feature = "native")),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(name, _)| name.to_owned())
    .collect()
}

/// This process's command line (arguments after the executable), features and commit.
pub fn current(environment: &Environment) -> Invocation {
    Invocation {
        args: std::env::args().skip(1).collect(),
        features: features(),
        commit: environment.git_commit.clone(),
        dirty: environment.git_dirty,
    }
}
