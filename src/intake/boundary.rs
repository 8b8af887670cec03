//! The reader boundary: a submission costs at most itself, never the run.
//!
//! Each submission is sniffed and checked by `read::guard` first. What is proven safe (an xlsx whose
//! declared sizes were checked with a real XML parser, a CSV, an XML Spreadsheet 2003) is read in this
//! process, inside the panic scope (`read::panic`); everything else (xls, xlsb, ods, HTML, an xlsx whose
//! declared sizes could not be read) goes to a reader worker process (`fugong __reader-worker`) that caps
//! its own address space and is killed when it runs past `max_read_secs`, and is never reused after a
//! failure or a timeout. calamine sizes buffers from values inside xls/xlsb files and builds dense ranges
//! for xls/ods; an allocation failure aborts a Rust process and cannot be caught, so there it costs only
//! the worker. A panic becomes `file-unreadable`.
//!
//! Protocol: length-prefixed postcard frames over the worker's stdin/stdout. The first frame is the
//! schema TOML; then one `Request` → one `SubmissionOutcome` per submission.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Schema;
use crate::validate::{Code, Finding, SubmissionContext, SubmissionOutcome, validate_submission};

/// Where submissions are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// In this process; a parser panic is caught. Limits are checked before calamine allocates, but an
    /// allocation calamine makes from a value that could not be checked can still abort the process.
    InProcess,
    /// In worker processes started from `exe` (the fugong binary), each capped at `memory_bytes`.
    Subprocess { exe: PathBuf, memory_bytes: u64 },
    /// Every submission in a worker, even those proven safe to read here (for measuring the cost).
    AllInWorkers { exe: PathBuf, memory_bytes: u64 },
}

/// A request as the worker reads it.
#[derive(Deserialize)]
struct Request {
    ctx: SubmissionContext,
    bytes: Vec<u8>,
}

/// The same request as the parent writes it, without copying the submission.
#[derive(Serialize)]
struct RequestRef<'a> {
    ctx: &'a SubmissionContext,
    bytes: &'a [u8],
}

fn within_boundary(read: impl FnOnce() -> SubmissionOutcome) -> SubmissionOutcome {
    match crate::read::panic::catch(read) {
        Ok(outcome) => outcome,
        Err(what) => SubmissionOutcome {
            findings: vec![
                Finding::file(
                    Code::FileUnreadable,
                    "文件结构异常，读取时出错：请在 Excel/WPS 中打开确认后另存为 .xlsx 重新报送",
                )
                .with_detail(what),
            ],
            ..SubmissionOutcome::default()
        },
    }
}

/// Read and validate in this process, turning a panic into `file-unreadable`.
pub fn validate_in_process(
    bytes: &[u8],
    ctx: &SubmissionContext,
    schema: &Schema,
) -> SubmissionOutcome {
    within_boundary(|| validate_submission(bytes, ctx, schema, None))
}

/// Read and validate in this process a submission `guard::inspect` has already sniffed and checked.
pub fn validate_inspected(
    bytes: &[u8],
    inspection: crate::read::Inspection,
    ctx: &SubmissionContext,
    schema: &Schema,
) -> SubmissionOutcome {
    within_boundary(|| validate_submission(bytes, ctx, schema, Some(inspection)))
}

fn write_frame(out: &mut impl Write, payload: &[u8]) -> std::io::Result<()> {
    out.write_all(&(payload.len() as u64).to_le_bytes())?;
    out.write_all(payload)?;
    out.flush()
}

fn read_frame(input: &mut impl Read, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 8];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u64::from_le_bytes(len);
    if len > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "frame too long",
        ));
    }
    let mut payload = vec![0u8; usize::try_from(len).unwrap_or(0)];
    input.read_exact(&mut payload)?;
    Ok(Some(payload))
}

const MAX_FRAME: u64 = 4 * 1024 * 1024 * 1024;

/// Body of `fugong __reader-worker`: cap memory, then answer requests until stdin closes.
pub fn worker_main(memory_bytes: u64) -> std::io::Result<()> {
    if memory_bytes > 0 {
        rlimit::setrlimit(rlimit::Resource::AS, memory_bytes, memory_bytes)?;
    }
    let mut input = BufReader::new(std::io::stdin().lock());
    let mut output = BufWriter::new(std::io::stdout().lock());
    let Some(schema_toml) = read_frame(&mut input, MAX_FRAME)? else {
        return Ok(());
    };
    let schema_toml = String::from_utf8(schema_toml).map_err(std::io::Error::other)?;
    let schema = Schema::from_toml_str(&schema_toml, Path::new("(schema from parent)"))
        .map_err(std::io::Error::other)?;
    while let Some(frame) = read_frame(&mut input, MAX_FRAME)? {
        let request: Request = postcard::from_bytes(&frame).map_err(std::io::Error::other)?;
        let outcome = validate_in_process(&request.bytes, &request.ctx, &schema);
        drop(request);
        let payload = postcard::to_stdvec(&outcome).map_err(std::io::Error::other)?;
        write_frame(&mut output, &payload)?;
    }
    Ok(())
}

struct Worker {
    child: Arc<Mutex<Child>>,
    stdin: BufWriter<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

/// A pool of reader worker processes, reused across submissions.
pub struct WorkerPool {
    exe: PathBuf,
    memory_bytes: u64,
    schema_toml: String,
    /// For the submissions read in this process.
    schema: Box<Schema>,
    idle: Mutex<Vec<Worker>>,
    /// Send every submission to a worker.
    all_in_workers: bool,
    /// Largest peak RSS seen of a worker (bytes), read from /proc before it is reaped.
    peak_rss: std::sync::atomic::AtomicU64,
}

impl WorkerPool {
    pub fn new(exe: PathBuf, memory_bytes: u64, schema: &Schema) -> WorkerPool {
        WorkerPool {
            exe,
            memory_bytes,
            schema_toml: schema.source_toml.clone(),
            schema: Box::new(schema.clone()),
            idle: Mutex::new(Vec::new()),
            all_in_workers: false,
            peak_rss: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn spawn(&self) -> std::io::Result<Worker> {
        let mut child = Command::new(&self.exe)
            .arg("__reader-worker")
            .arg("--memory-bytes")
            .arg(self.memory_bytes.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("worker stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("worker stdout"))?;
        let mut worker = Worker {
            child: Arc::new(Mutex::new(child)),
            stdin: BufWriter::with_capacity(1 << 16, stdin),
            stdout: BufReader::with_capacity(1 << 16, stdout),
        };
        write_frame(&mut worker.stdin, self.schema_toml.as_bytes())?;
        Ok(worker)
    }

    /// Validate one submission in a worker. A worker that crashes, runs out of memory or time is
    /// discarded and the submission gets a file-level finding.
    pub fn validate(&self, bytes: &[u8], ctx: &SubmissionContext) -> SubmissionOutcome {
        let reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut worker = match reused {
            Some(w) => w,
            None => match self.spawn() {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(error = %e, exe = %self.exe.display(), "cannot start a reader worker");
                    return failed(
                        Code::FileUnreadable,
                        format!("读取进程无法启动（{e}），请联系运维人员"),
                    );
                }
            },
        };
        let request = RequestRef { ctx, bytes };
        let payload = match postcard::to_stdvec(&request) {
            Ok(p) => p,
            Err(e) => return failed(Code::FileUnreadable, format!("内部错误：{e}")),
        };

        // Watchdog: kill the worker when it runs past the time limit.
        let timed_out = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let limit = Duration::from_secs(ctx.limits.max_read_secs) + Duration::from_millis(500);
        let watchdog = {
            let child = Arc::clone(&worker.child);
            let timed_out = Arc::clone(&timed_out);
            std::thread::spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(limit) {
                    timed_out.store(true, Ordering::SeqCst);
                    if let Ok(mut c) = child.lock() {
                        let _ = c.kill();
                    }
                }
            })
        };
        let answer = write_frame(&mut worker.stdin, &payload)
            .and_then(|()| read_frame(&mut worker.stdout, MAX_FRAME))
            .and_then(|frame| {
                frame.ok_or_else(|| std::io::Error::other("worker closed its output"))
            })
            .and_then(|frame| {
                postcard::from_bytes::<SubmissionOutcome>(&frame).map_err(std::io::Error::other)
            });
        let _ = done_tx.send(());
        let _ = watchdog.join();
        match answer {
            // An answer that raced the watchdog: the worker may already be killed. Never reuse it.
            Ok(outcome) if timed_out.load(Ordering::SeqCst) => {
                if let Ok(mut c) = worker.child.lock() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                outcome
            }
            Ok(outcome) => {
                if let Ok(c) = worker.child.lock() {
                    self.note_peak(&c);
                }
                if let Ok(mut idle) = self.idle.lock() {
                    idle.push(worker);
                }
                outcome
            }
            Err(e) => {
                let status = worker.child.lock().ok().and_then(|mut c| {
                    self.note_peak(&c);
                    let _ = c.kill();
                    c.wait().ok()
                });
                tracing::warn!(district = %ctx.district_code, error = %e, ?status, "a reader worker failed");
                if timed_out.load(Ordering::SeqCst) {
                    return failed(
                        Code::FileTooLarge,
                        format!(
                            "读取时间超过 {} 秒的上限：文件过大或结构异常，请精简后重新报送",
                            ctx.limits.max_read_secs
                        ),
                    );
                }
                if crashed_on_memory(status) {
                    return failed(
                        Code::FileTooLarge,
                        format!(
                            "读取该文件需要的内存超过 {} MiB 的上限（文件声明的尺寸异常或内容过大）：请在 Excel/WPS 中打开确认后另存为 .xlsx 重新报送",
                            self.memory_bytes / (1024 * 1024)
                        ),
                    );
                }
                failed(
                    Code::FileUnreadable,
                    "文件结构异常，读取进程异常退出：请在 Excel/WPS 中打开确认后另存为 .xlsx 重新报送",
                )
            }
        }
    }
}

impl WorkerPool {
    fn note_peak(&self, child: &Child) {
        if let Some(peak) = peak_rss_bytes(Some(child.id())) {
            self.peak_rss.fetch_max(peak, Ordering::Relaxed);
        }
    }

    /// Stop the idle workers and return the largest peak RSS any worker reached (bytes).
    pub fn shutdown(&self) -> u64 {
        if let Ok(mut idle) = self.idle.lock() {
            for worker in idle.drain(..) {
                // Read the peak while the worker is alive: once it exits, /proc no longer has it.
                if let Ok(c) = worker.child.lock() {
                    self.note_peak(&c);
                }
                drop(worker.stdin);
                if let Ok(mut c) = worker.child.lock() {
                    let _ = c.wait();
                }
            }
        }
        self.peak_rss.load(Ordering::Relaxed)
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Peak resident set size (VmHWM) of a process, or of this one.
pub fn peak_rss_bytes(pid: Option<u32>) -> Option<u64> {
    status_kib(pid, "VmHWM:").map(|kib| kib * 1024)
}

/// This process's resident set now, in bytes (for the stage log).
pub fn rss_bytes() -> Option<u64> {
    status_kib(None, "VmRSS:").map(|kib| kib * 1024)
}

fn status_kib(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// An abort (SIGABRT) is how Rust reports a failed allocation.
fn crashed_on_memory(status: Option<std::process::ExitStatus>) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.and_then(|s| s.signal()) == Some(6)
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        false
    }
}

fn failed(code: Code, message: impl Into<String>) -> SubmissionOutcome {
    SubmissionOutcome {
        findings: vec![Finding::file(code, message)],
        ..SubmissionOutcome::default()
    }
}

/// Runs submissions under the chosen isolation.
pub enum Reader<'s> {
    InProcess(&'s Schema),
    Pool(WorkerPool),
}

impl<'s> Reader<'s> {
    pub fn new(isolation: &Isolation, schema: &'s Schema) -> Reader<'s> {
        match isolation {
            Isolation::InProcess => Reader::InProcess(schema),
            Isolation::Subprocess { exe, memory_bytes } => {
                Reader::Pool(WorkerPool::new(exe.clone(), *memory_bytes, schema))
            }
            Isolation::AllInWorkers { exe, memory_bytes } => {
                let mut pool = WorkerPool::new(exe.clone(), *memory_bytes, schema);
                pool.all_in_workers = true;
                Reader::Pool(pool)
            }
        }
    }

    pub fn validate(&self, bytes: &[u8], ctx: &SubmissionContext) -> SubmissionOutcome {
        match self {
            Reader::InProcess(schema) => validate_in_process(bytes, ctx, schema),
            Reader::Pool(pool) => {
                let inspected =
                    crate::read::panic::catch(|| crate::read::guard::inspect(bytes, &ctx.limits));
                match inspected {
                    Ok(Err(e)) => SubmissionOutcome::from_read_error(&e),
                    // Proven safe to read here (see `read::guard`).
                    Ok(Ok(inspection)) if inspection.in_process && !pool.all_in_workers => {
                        validate_inspected(bytes, inspection, ctx, &pool.schema)
                    }
                    Ok(Ok(_)) | Err(_) => pool.validate(bytes, ctx),
                }
            }
        }
    }

    /// Stop worker processes; the largest peak RSS of a worker in bytes (0 in process).
    pub fn finish(self) -> u64 {
        match self {
            Reader::InProcess(_) => 0,
            Reader::Pool(pool) => pool.shutdown(),
        }
    }
}
