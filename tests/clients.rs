//! Real clients: the published example warehouse read by pyarrow (hive dataset) and DuckDB
//! (`read_parquet(..., hive_partitioning = true)`), both from pip. `tests/run.sh` installs them and sets
//! FUGONG_PYTHON; without it this test fails and says how to run it.

use std::path::PathBuf;
use std::process::Command;

use fugong::{RunOptions, run_job};

use crate::support::*;

#[test]
fn pyarrow_and_duckdb_read_the_example_warehouse() {
    let Some(python) = std::env::var_os("FUGONG_PYTHON") else {
        panic!(
            "FUGONG_PYTHON is not set: run the suite with `bash tests/run.sh`, which installs pyarrow and duckdb"
        );
    };
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let job = fugong::config::Job::load(&repo.join("jobs/example.toml")).expect("example job");
    let out = tempfile::tempdir().expect("tempdir");
    let options = RunOptions {
        output: Some(out.path().to_path_buf()),
        ..subprocess_options()
    };
    for d in [date(2020, 2, 24), date(2020, 2, 25)] {
        run_job(&job, d, &options).expect("published");
    }
    let result = Command::new(python)
        .arg(repo.join("tests/clients/check_warehouse.py"))
        .arg(out.path())
        .args(["2020-02-24", "2020-02-25"])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&result.stdout);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.success(),
        "client check failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("2020-02-25: 济南市 ranks first"),
        "{stdout}"
    );
}
