//! Any bytes, read and validated exactly as `fugong run` does in the publishing process: the guard
//! sniffs and checks them (`read::guard::inspect`), and what it proves safe to read here (an xlsx whose
//! declared sizes it checked, a CSV, an XML Spreadsheet 2003) is read and validated in process, as
//! district 370102 on 2020-02-24 with the built-in schema and the default limits. (Everything else goes
//! to a reader worker process in `run`, where an abort costs only that submission.) An abort, a memory
//! blow-up past libFuzzer's limits or a hang here would take a run down: that is a bug. A panic is
//! caught at the submission boundary, as in `run`.
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
    let inspected = {
        let _boundary = fugong::read::panic::enter_boundary();
        std::panic::catch_unwind(|| fugong::read::guard::inspect(data, &CONTEXT.limits))
    };
    let Ok(Ok(inspection)) = inspected else {
        return;
    };
    if !inspection.in_process {
        return;
    }
    let outcome =
        fugong::intake::boundary::validate_inspected(data, inspection, &CONTEXT, &SCHEMA);
    // Every finding says something to the clerk.
    assert!(outcome.findings.iter().all(|f| !f.message.is_empty()));
});
