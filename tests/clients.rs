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

/// The README and the docs render as intended (markdown-it-py, a CommonMark parser with tables): every
/// fence closed, every table a table. The README once left a fence open and showed its commands, exit
/// codes and guarantees as one code block.
#[test]
fn the_readme_and_the_docs_render_as_markdown_should() {
    let Some(python) = std::env::var_os("FUGONG_PYTHON") else {
        panic!("FUGONG_PYTHON is not set: run the suite with `bash tests/run.sh`");
    };
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![repo.join("README.md")];
    for entry in std::fs::read_dir(repo.join("docs")).expect("docs") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    assert!(
        files.len() >= 3,
        "README, the cookbook and the tables: {files:?}"
    );
    let o = Command::new(&python)
        .arg(repo.join("tests/clients/check_markdown.py"))
        .args(&files)
        .output()
        .expect("python");
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // The checker finds the fault it is for: a fence "closed" by a line with words after it.
    let dir = tempfile::tempdir().expect("tmp");
    let broken = dir.path().join("broken.md");
    std::fs::write(
        &broken,
        "# t\n\n```sh\ncargo run\n``` The example's\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
    )
    .expect("write");
    let o = Command::new(&python)
        .arg(repo.join("tests/clients/check_markdown.py"))
        .arg(&broken)
        .output()
        .expect("python");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("does not close it"));
}
