//! Any bytes, read and validated exactly as `fugong run` does in process (`validate_in_process`: sniff,
//! guard, open, find the report sheet, validate every row), as district 370102 on 2020-02-24 with the
//! built-in schema and the default limits. A crash, an abort, a leak past libFuzzer's limits or a hang
//! is a bug: the guard must stop a hostile file before it costs memory.
#![no_main]

use std::sync::{Arc, LazyLock};

use fugong::config::Schema;
use fugong::read::ReadLimits;
use fugong::validate::{KnownDistrict, SubmissionContext};
use libfuzzer_sys::fuzz_target;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema::builtin().expect("built-in schema"));
static CONTEXT: LazyLock<SubmissionContext> = LazyLock::new(|| SubmissionContext {
    district_code: "370102".into(),
    report_date: chrono::NaiveDate::from_ymd_opt(2020, 2, 24).expect("date"),
    date_known: true,
    limits: ReadLimits {
        // Short enough that a slow input shows as a timeout finding, not a libFuzzer hang.
        max_read_secs: 5,
        ..ReadLimits::default()
    },
    districts: Arc::new(vec![
        KnownDistrict {
            code: "370102".into(),
            name: "历下区".into(),
            city_name: "济南市".into(),
        },
        KnownDistrict {
            code: "370103".into(),
            name: "市中区".into(),
            city_name: "济南市".into(),
        },
    ]),
});

fuzz_target!(|data: &[u8]| {
    let outcome = fugong::read::boundary::validate_in_process(data, &CONTEXT, &SCHEMA);
    // Every finding says something to the clerk.
    assert!(outcome.findings.iter().all(|f| !f.message.is_empty()));
});
