//! `cargo bench --bench pipeline`: how fast `fugong run` is against calamine alone on the same files.
//!
//! Corpus A: a province-day, 136 districts × 200 enterprise rows (xlsx).
//! Corpus B: one district workbook of 50 000 rows.
//! Corpus C: a national-size day, 570 districts × 1 000 rows (memory must not grow with the day).
//! `cargo bench --bench pipeline -- C` runs only the corpora named.
//! For each: calamine alone (a process that opens every workbook and touches every cell of the report
//! sheet, nothing else; on one thread and on two) and the whole `fugong run` process (read, validate,
//! compare, write Parquet, publish), each median of 5 whole-process runs, with rows/s, the ratio to
//! single-threaded calamine, and peak RSS (fugong and its largest reader worker, as fugong reports them).
//! A is also run publishing Delta Lake tables to S3 (SeaweedFS on loopback, started here from the `weed`
//! that `tests/run.sh` installs).
//! The corpora are generated here (rust_xlsxwriter), under target/bench-corpus/, and reused.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use calamine::{Data, Reader, open_workbook_auto_from_rs};
use rust_xlsxwriter::{Format, Workbook};

const RUNS: usize = 5;

fn corpus_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-corpus")
}

/// A valid USCC for enterprise k.
fn uscc(k: u64) -> String {
    const CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let first = format!("9137{:06}MA{:05}", (k / 100_000) % 1_000_000, k % 100_000);
    let sum: u32 = first
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| CHARSET.iter().position(|c| *c == b).unwrap_or(0) as u32 * w)
        .sum();
    format!(
        "{first}{}",
        CHARSET[((31 - sum % 31) % 31) as usize] as char
    )
}

fn write_workbook(path: &Path, district: &str, first_k: u64, rows: u32) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("复工日报").expect("name");
    let plain = Format::new();
    ws.merge_range(
        0,
        0,
        0,
        13,
        &format!("{district}规模以上工业企业复工复产情况日报表"),
        &plain,
    )
    .expect("merge");
    ws.write_string(1, 0, format!("填报单位：{district}工业和信息化局"))
        .expect("w");
    ws.write_string(1, 10, "填报日期：2020年2月24日")
        .expect("w");
    let headers = [
        "序号",
        "统一社会信用代码",
        "企业名称",
        "所属行业",
        "是否开工",
        "开工日期",
        "职工总数(人)",
        "上岗人数(人)",
        "产能恢复率(%)",
        "口罩日产能(只)",
        "融资需求(万元)",
        "存在问题及诉求",
        "联系人",
        "联系电话",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(2, c as u16, *h).expect("w");
    }
    let industries = [
        "通用设备制造业",
        "食品制造业",
        "纺织业",
        "化学原料和化学制品制造业",
        "汽车制造业",
    ];
    for i in 0..rows {
        let r = 3 + i;
        let k = first_k + u64::from(i);
        let resumed = !k.is_multiple_of(17);
        let employees = 50 + (k * 37) % 900;
        ws.write_number(r, 0, f64::from(i + 1)).expect("w");
        ws.write_string(r, 1, uscc(k)).expect("w");
        ws.write_string(r, 2, format!("山东第{k}号制造有限公司"))
            .expect("w");
        ws.write_string(r, 3, industries[(k % 5) as usize])
            .expect("w");
        ws.write_string(r, 4, if resumed { "是" } else { "否" })
            .expect("w");
        if resumed {
            ws.write_string(r, 5, format!("2020-02-{:02}", 10 + k % 14))
                .expect("w");
        }
        ws.write_number(r, 6, employees as f64).expect("w");
        ws.write_number(
            r,
            7,
            if resumed {
                (employees * 3 / 4) as f64
            } else {
                0.0
            },
        )
        .expect("w");
        ws.write_number(r, 8, (40 + k % 60) as f64).expect("w");
        if k.is_multiple_of(23) {
            ws.write_number(r, 9, 10000.0).expect("w");
        }
        if k.is_multiple_of(7) {
            ws.write_number(r, 10, (k % 500) as f64).expect("w");
        }
        if !resumed {
            ws.write_string(r, 11, "员工返岗难，原料供应不足")
                .expect("w");
        }
        ws.write_string(r, 12, "张三").expect("w");
        ws.write_string(r, 13, "13800000000").expect("w");
    }
    ws.write_string(3 + rows, 0, "合计").expect("w");
    ws.write_string(4 + rows, 0, "填表人：王五").expect("w");
    wb.save(path).expect("save");
}

struct Corpus {
    name: &'static str,
    job: PathBuf,
    files: Vec<PathBuf>,
    rows: u64,
}

fn make_corpus(name: &'static str, districts: u32, rows: u32) -> Corpus {
    // v2: realistic names (v1's names made most districts a district-mismatch).
    let root = corpus_root().join(format!("{name}-v2"));
    let inbox = root.join("inbox").join("2020-02-24");
    std::fs::create_dir_all(&inbox).expect("mkdir");
    let mut job = String::from(
        "name = \"bench\"\noutput = \"warehouse\"\n[province]\ncode = \"370000\"\nname = \"山东省\"\n[source]\nkind = \"dir\"\npath = \"inbox/{date}/{district_code}.*\"\n",
    );
    let mut files = Vec::new();
    // Names from two disjoint character sets, so that no district's name contains a city's (a 填报单位
    // naming another city would be a district-mismatch).
    const DISTRICT_CHARS: [char; 12] = [
        '东', '西', '南', '北', '中', '平', '安', '宁', '和', '兴', '泰', '丰',
    ];
    const CITY_CHARS: [char; 16] = [
        '甲', '乙', '丙', '丁', '戊', '己', '庚', '辛', '壬', '癸', '子', '丑', '寅', '卯', '辰',
        '巳',
    ];
    for d in 0..districts {
        let city = 1 + d / 9;
        let code = format!("37{city:02}{:02}", 2 + d % 9);
        let name = format!(
            "{}{}区",
            DISTRICT_CHARS[(d % 12) as usize],
            DISTRICT_CHARS[((d / 12) % 12) as usize]
        );
        let city_name = format!("{}州市", CITY_CHARS[((city - 1) % 16) as usize]);
        job.push_str(&format!(
            "[[districts]]\ncode = \"{code}\"\nname = \"{name}\"\ncity = \"{city_name}\"\n"
        ));
        let path = inbox.join(format!("{code}.xlsx"));
        if !path.exists() {
            write_workbook(&path, &name, u64::from(d) * 100_000 + 1, rows);
        }
        files.push(path);
    }
    let job_path = root.join("job.toml");
    std::fs::write(&job_path, job).expect("job");
    Corpus {
        name,
        job: job_path,
        files,
        rows: u64::from(districts) * u64::from(rows),
    }
}

/// Open the workbook and touch every cell of its first sheet.
fn calamine_alone(path: &Path) -> usize {
    let bytes = std::fs::read(path).expect("read");
    let mut wb = open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).expect("open");
    let name = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&name).expect("range");
    range
        .used_cells()
        .filter(|(_, _, v)| !matches!(v, Data::Empty))
        .count()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Body of the calamine-alone process: `pipeline --calamine-alone THREADS FILE...`.
fn calamine_alone_process(threads: usize, files: &[PathBuf]) {
    let cells: usize = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(files.len().div_ceil(threads).max(1))
            .map(|chunk| s.spawn(move || chunk.iter().map(|f| calamine_alone(f)).sum::<usize>()))
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).sum()
    });
    println!("{cells}");
}

/// calamine alone as a whole process (like `fugong run`), median of RUNS.
fn time_calamine(files: &[PathBuf], threads: usize) -> Duration {
    let exe = std::env::current_exe().expect("bench exe");
    median(
        (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let out = Command::new(&exe)
                    .arg("--calamine-alone")
                    .arg(threads.to_string())
                    .args(files)
                    .output()
                    .expect("calamine alone");
                assert!(out.status.success());
                start.elapsed()
            })
            .collect(),
    )
}

struct FugongRun {
    wall: Duration,
    peak_fugong_mib: f64,
    peak_reader_mib: f64,
    /// Largest sum of the RSS of fugong and its workers seen at one moment (sampled every 2 ms).
    peak_tree_mib: f64,
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// RSS of a process and all its descendants, in KiB.
fn tree_rss_kib(pid: u32) -> u64 {
    let children: String = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .collect::<Vec<_>>()
        .join(" ");
    rss_kib(pid)
        + children
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .map(tree_rss_kib)
            .sum::<u64>()
}

/// Where a run publishes: the corpus's local folder (emptied before each run), or a new prefix of an
/// S3 bucket per run (so that every run is a first publish, as the local ones are).
enum Target<'a> {
    Local,
    S3 { weed: &'a Weed, bucket: String },
}

impl Target<'_> {
    /// Credentials for the S3 row (SeaweedFS without an identity file accepts any).
    fn envs(&self) -> Vec<(&'static str, &'static str)> {
        match self {
            Target::Local => Vec::new(),
            Target::S3 { .. } => vec![
                ("AWS_ACCESS_KEY_ID", "fugong-bench"),
                ("AWS_SECRET_ACCESS_KEY", "fugong-bench-secret"),
                ("AWS_REGION", "us-east-1"),
            ],
        }
    }

    /// The job file of run `n`.
    fn job(&self, corpus: &Corpus, n: usize) -> PathBuf {
        match self {
            Target::Local => {
                let out = corpus
                    .job
                    .parent()
                    .expect("corpus folder")
                    .join("warehouse");
                let _ = std::fs::remove_dir_all(&out);
                corpus.job.clone()
            }
            Target::S3 { weed, bucket } => {
                let text = std::fs::read_to_string(&corpus.job).expect("job").replace(
                    "output = \"warehouse\"\n",
                    &format!(
                        "output = \"s3://{bucket}/run-{n}\"\ntable_format = \"delta\"\n[storage]\nendpoint = \"{}\"\nregion = \"us-east-1\"\nallow_http = true\n",
                        weed.endpoint
                    ),
                );
                let path = corpus.job.with_file_name("job-s3.toml");
                std::fs::write(&path, text).expect("job");
                path
            }
        }
    }
}

/// SeaweedFS's S3 server on loopback, from the `weed` binary `tests/run.sh` installs into
/// target/py-clients (or `weed` on PATH); stopped when dropped.
struct Weed {
    child: std::process::Child,
    endpoint: String,
    dir: PathBuf,
}

impl Weed {
    fn start() -> Option<Weed> {
        let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py-clients/bin/weed");
        let exe = if venv.exists() {
            venv
        } else {
            let found = std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join("weed"))
                    .find(|p| p.exists())
            });
            found?
        };
        let port = |base: u16| -> u16 {
            (base..base + 1000)
                .find(|p| {
                    std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok()
                        && std::net::TcpListener::bind(("127.0.0.1", *p + 10_000)).is_ok()
                })
                .expect("a free port")
        };
        let (s3, master) = (port(21000), port(22000));
        let (volume, filer) = (port(23000), port(24000));
        let dir = corpus_root().join(format!("seaweedfs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let child = Command::new(exe)
            .args(["server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3"])
            .arg(format!("-dir={}", dir.display()))
            .arg(format!("-master.port={master}"))
            .arg("-master.volumeSizeLimitMB=64")
            .arg(format!("-volume.port={volume}"))
            .arg("-volume.max=200")
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-s3.port={s3}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let weed = Weed {
            child,
            endpoint: format!("http://127.0.0.1:{s3}"),
            dir,
        };
        Some(weed)
    }

    /// Create a bucket, waiting for the server to be ready.
    fn bucket(&self, name: &str) -> String {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let ok = client
                .put(format!("{}/{name}", self.endpoint))
                .send()
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return name.to_string();
            }
            assert!(Instant::now() < deadline, "SeaweedFS did not start");
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn time_fugong(corpus: &Corpus, target: &Target<'_>, extra: &[&str]) -> FugongRun {
    let mut walls = Vec::new();
    let (mut peak_fugong, mut peak_reader, mut peak_tree) = (0f64, 0f64, 0u64);
    for n in 0..RUNS {
        let job = target.job(corpus, n);
        let start = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_fugong"))
            .args(["run", "--quiet", "--date", "2020-02-24", "--job"])
            .arg(&job)
            .envs(target.envs())
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("fugong");
        let pid = child.id();
        let done = std::sync::atomic::AtomicBool::new(false);
        let (output, tree) = std::thread::scope(|s| {
            let sampler = s.spawn(|| {
                let mut peak = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    peak = peak.max(tree_rss_kib(pid));
                    std::thread::sleep(Duration::from_millis(2));
                }
                peak
            });
            let output = child.wait_with_output().expect("wait");
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            (output, sampler.join().unwrap_or(0))
        });
        walls.push(start.elapsed());
        peak_tree = peak_tree.max(tree);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        // The benchmark only counts if every row was read, validated and published.
        assert!(
            stdout.contains(&format!("({} enterprise rows", corpus.rows)),
            "not every row was published:\n{stdout}"
        );
        let line = stdout
            .lines()
            .find(|l| l.starts_with("peak memory"))
            .unwrap_or_default();
        let nums: Vec<f64> = line
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter_map(|t| t.parse().ok())
            .collect();
        peak_fugong = peak_fugong.max(nums.first().copied().unwrap_or(0.0));
        peak_reader = peak_reader.max(nums.get(1).copied().unwrap_or(0.0));
    }
    FugongRun {
        wall: median(walls),
        peak_fugong_mib: peak_fugong,
        peak_reader_mib: peak_reader,
        peak_tree_mib: peak_tree as f64 / 1024.0,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        println!("pipeline: benchmark");
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--calamine-alone") {
        let threads = args.get(i + 1).and_then(|t| t.parse().ok()).unwrap_or(1);
        let files: Vec<PathBuf> = args[i + 2..].iter().map(PathBuf::from).collect();
        calamine_alone_process(threads, &files);
        return;
    }
    let only: Vec<String> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .cloned()
        .collect();
    let corpora: Vec<Corpus> = [("A", 136, 200), ("B", 1, 50_000), ("C", 570, 1_000)]
        .into_iter()
        .filter(|(name, _, _)| only.is_empty() || only.iter().any(|o| o == name))
        .map(|(name, districts, rows)| make_corpus(name, districts, rows))
        .collect();
    println!(
        "fugong benchmark: median of {RUNS} runs, whole processes for fugong, {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "{:<3} {:>7} {:>12} {:>12} {:>12} {:>10} {:>8} {:>12} {:>12} {:>12}",
        "",
        "rows",
        "calamine 1t",
        "calamine 2t",
        "fugong",
        "rows/s",
        "ratio",
        "RSS fugong",
        "RSS reader",
        "RSS all"
    );
    // A on S3: the same run publishing Delta Lake tables to SeaweedFS on loopback.
    let weed = if corpora.iter().any(|c| c.name == "A") {
        let weed = Weed::start();
        if weed.is_none() {
            println!(
                "(no SeaweedFS: run `bash tests/run.sh` once, which installs it into target/py-clients, for the A-on-S3 row)"
            );
        }
        weed
    } else {
        None
    };
    for corpus in &corpora {
        let single = time_calamine(&corpus.files, 1);
        let double = time_calamine(&corpus.files, 2);
        let mut rows: Vec<(&str, Target<'_>, &[&str])> = vec![
            ("", Target::Local, &[][..]),
            (" (in-process)", Target::Local, &["--in-process"][..]),
            (
                " (every file in a reader worker)",
                Target::Local,
                &["--all-in-workers"][..],
            ),
        ];
        if let (Some(weed), "A") = (&weed, corpus.name) {
            rows.push((
                " (Delta Lake on S3: SeaweedFS on loopback)",
                Target::S3 {
                    weed,
                    bucket: weed.bucket(&format!("bench-{}", std::process::id())),
                },
                &[][..],
            ));
        }
        for (label, target, extra) in &rows {
            let run = time_fugong(corpus, target, extra);
            println!(
                "{:<3} {:>7} {:>11.3}s {:>11.3}s {:>11.3}s {:>10.0} {:>7.2}x {:>9.1}MiB {:>9.1}MiB {:>9.1}MiB{label}",
                corpus.name,
                corpus.rows,
                single.as_secs_f64(),
                double.as_secs_f64(),
                run.wall.as_secs_f64(),
                corpus.rows as f64 / run.wall.as_secs_f64(),
                run.wall.as_secs_f64() / single.as_secs_f64(),
                run.peak_fugong_mib,
                run.peak_reader_mib,
                run.peak_tree_mib,
            );
        }
    }
    println!(
        "every figure is a whole process; ratio = fugong / single-threaded calamine alone on the same files"
    );
    println!(
        "RSS fugong / reader: peak of each process as fugong reports it; RSS all: largest sampled sum of both"
    );
}
