//! The `llpar` command: `opt`'s and `llc`'s conventions, run in parallel.
#![warn(clippy::undocumented_unsafe_blocks)]
use clap::{Parser, ValueEnum};
use llpar::note;
use llpar::{
    EmitKind, Error, Options, PipelineRequest, PlanOptions, RelocModel, Stats, TargetOptions,
};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Emit {
    Bc,
    Ll,
    Asm,
    Obj,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Reloc {
    Pic,
    Static,
    DynamicNoPic,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum InlinerMode {
    Parallel,
    Serial,
}

/// Optimize an LLVM module (.bc or .ll) with its function passes running in parallel.
#[derive(Parser, Debug)]
#[command(name = "llpar", version, about, long_about = None)]
struct Cli {
    /// Input bitcode or textual IR; `-` or nothing reads standard input.
    input: Option<String>,
    /// Output file; `-` (the default) writes to standard output.
    #[arg(short = 'o', value_name = "FILE")]
    output: Option<String>,
    /// Write textual IR (or, with --emit=asm, assembly).
    #[arg(short = 'S')]
    text: bool,
    /// What to write: bitcode (default), IR, assembly or an object file.
    #[arg(long, value_enum)]
    emit: Option<Emit>,
    /// Optimization level: 0, 1, 2, 3, s, z (`-O2`), the `default<On>` pipeline.
    #[arg(short = 'O', value_name = "LEVEL", value_parser = ["0", "1", "2", "3", "s", "z"])]
    level: Option<String>,
    /// A pass pipeline in the new pass manager's syntax; its function(...) parts run in parallel.
    #[arg(long = "passes", value_name = "PIPELINE")]
    passes: Option<String>,
    /// Worker threads (default: all cores). The output never depends on it.
    #[arg(short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// Target triple (overrides the module's).
    #[arg(long)]
    mtriple: Option<String>,
    /// Target CPU.
    #[arg(long, default_value = "")]
    mcpu: String,
    /// Target features, e.g. +avx2,-sse4.1.
    #[arg(long, default_value = "")]
    mattr: String,
    /// Relocation model for code generation (default: pic, as clang on Linux).
    #[arg(
        long = "relocation-model",
        alias = "reloc-model",
        value_enum,
        default_value = "pic"
    )]
    reloc: Reloc,
    /// Verify the input, every chunk and every intermediate module (input and output always are).
    #[arg(long)]
    verify: bool,
    /// Print phase timings, chunk count, the largest chunk and the serial share on stderr.
    #[arg(long)]
    stats: bool,
    /// With -O<n>: also simplify every function (in parallel) before the inliner runs, so that it
    /// weighs callees as simplified as in a serial run (better code, more CPU time).
    #[arg(long)]
    simplify_before_inlining: bool,
    /// With -O<n>: where the inliner's call-graph walk runs. `serial`: on the whole module, with
    /// only sroa, early-cse and simplifycfg as cleanup, the other simplification passes in
    /// parallel afterwards.
    /// `parallel`: on chunks, callees first, wave after wave, with all simplification passes
    /// inside the walk as in `opt`; to an object, each chunk then goes on to code generation
    /// alone (code closer to opt's on C++; scales further on a wide call graph such as
    /// HiGHS's, less far on a deep one such as sqlite3's or Lua's).
    #[arg(long, value_enum, default_value = "serial")]
    inliner: InlinerMode,
    /// Print the pipeline's segments (serial or per chunk) on stderr, as they run.
    #[arg(long)]
    print_pipeline_passes: bool,
    /// Keep every chunk's bitcode, before (phaseP.chunkN.bc) and after (phaseP.chunkN.opt.bc, or .o) its passes, in DIR; P counts the pipeline's parallel phases
    #[arg(long, value_name = "DIR")]
    save_temps: Option<PathBuf>,
    /// Write a Chrome trace (as `clang -ftime-trace` does) of phases and chunks to FILE.
    #[arg(long, value_name = "FILE")]
    time_trace: Option<PathBuf>,
    /// Run every chunk in a child process: a crash or LLVM fatal error in one chunk is reported
    /// with its reproducer while all other chunks still run and are verified (slower: a process
    /// per chunk; the default runs chunks on threads and stops at the first fatal error).
    #[arg(long)]
    isolate: bool,
    /// Where a chunk that LLVM fails on is written as a reproducer (default: the temporary
    /// directory, or --save-temps DIR).
    #[arg(long, value_name = "DIR")]
    crash_dir: Option<PathBuf>,
    /// Cap on memory (e.g. 2G, 512M): fewer chunks run at once when their expected memory would
    /// not fit; never fails for it (one chunk always runs).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<u64>,
    /// Write the optimization remarks (each inlining decision, ...) to FILE, as YAML, as
    /// `opt -pass-remarks-output` does: whole-module passes in the order they ran, each
    /// parallel phase's chunks in chunk order (the same bytes for every -j).
    #[arg(long, value_name = "FILE")]
    pass_remarks_output: Option<PathBuf>,
    /// Only the remarks of the passes whose names match REGEX (e.g. `inline`).
    #[arg(long, value_name = "REGEX", requires = "pass_remarks_output")]
    pass_remarks_filter: Option<String>,
    /// The remarks' format; llpar writes YAML, opt's default.
    #[arg(long, value_name = "FORMAT", value_parser = ["yaml"], requires = "pass_remarks_output")]
    pass_remarks_format: Option<String>,
    /// The shortest pass run on a function that --time-trace records, in microseconds.
    #[arg(long, value_name = "US", default_value_t = 500)]
    time_trace_granularity: u64,
    /// No progress display (shown on stderr only when it is a terminal).
    #[arg(short = 'q', long)]
    quiet: bool,
    /// The most chunks a module is split into [default: 32, or one per 16,000 instructions for
    /// a larger module].
    #[arg(long, value_name = "N")]
    max_chunks: Option<usize>,
    /// Keep whole outputs and chunk results in DIR, keyed by their content, and reuse them: an
    /// unchanged input is not compiled again, an edited one only in the chunks it changed. The
    /// output bytes are the same with or without it. Several processes may share one DIR.
    #[arg(long, value_name = "DIR", env = "LLPAR_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// The cache's size cap (e.g. 2G); entries used least recently are removed beyond it.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, env = "LLPAR_CACHE_MAX_SIZE",
          default_value = "10G")]
    cache_max_size: u64,
    /// Run the chunks on a Remote Execution API (REAPI v2) server, e.g. grpc://HOST:8980 (Bazel's
    /// BuildGrid, Buildbarn, BuildBuddy, ...): each chunk is an action that runs this llpar
    /// executable on the remote workers (which need this LLVM); the output bytes are the same.
    #[arg(long, value_name = "URL")]
    remote_executor: Option<String>,
    /// The REAPI instance name.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "",
        requires = "remote_executor"
    )]
    remote_instance: String,
    /// Run a chunk here when the remote executor cannot (unreachable, or failing it).
    #[arg(long, requires = "remote_executor")]
    remote_fallback: bool,
    /// The longest any remote call or action may take, in seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 600,
        requires = "remote_executor"
    )]
    remote_timeout: u64,
    /// The chunk size aimed at, in instructions: chunks are cut by content at about this cost
    /// or more (at least half of it), so that an edit changes only the chunks around it.
    #[arg(long, default_value_t = PlanOptions::default().min_chunk_cost)]
    min_chunk_cost: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SplitStrategy {
    Balanced,
    Callgraph,
    PerFunction,
    RoundRobin,
}

/// Split a module into codegen units that each compile alone: PREFIX0 ... PREFIX{N-1}.
#[derive(Parser, Debug)]
#[command(name = "llpar split")]
struct SplitCli {
    /// Input bitcode or textual IR.
    input: String,
    /// Number of units.
    #[arg(short = 'n', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    units: Option<u32>,
    /// Instead of -n: the cost (instructions) a unit should have.
    #[arg(long, value_name = "COST", conflicts_with = "units")]
    target_size: Option<u64>,
    /// How functions are assigned to units.
    #[arg(long, value_enum, default_value = "balanced")]
    strategy: SplitStrategy,
    /// Prefix of the unit files.
    #[arg(short = 'o', value_name = "PREFIX")]
    output: String,
    /// Write what went where and why (units, promoted symbols, glued functions); `-` for stderr.
    #[arg(long, value_name = "FILE")]
    report: Option<String>,
}

/// Link units of `llpar split` (unit 0 first) back into one module.
#[derive(Parser, Debug)]
#[command(name = "llpar merge")]
struct MergeCli {
    /// The units, unit 0 first.
    #[arg(required = true)]
    units: Vec<String>,
    /// Output file; `-` writes to standard output.
    #[arg(short = 'o', value_name = "FILE", default_value = "-")]
    output: String,
    /// Write textual IR.
    #[arg(short = 'S')]
    text: bool,
}

fn split_command(args: &[String]) -> Result<(), Error> {
    let cli = SplitCli::parse_from(
        std::iter::once("llpar split".to_string()).chain(normalize_args(args.iter().cloned())),
    );
    let input = read_input(&cli.input)?;
    let options = llpar::units::SplitOptions {
        strategy: match cli.strategy {
            SplitStrategy::Balanced => llpar::Strategy::Balanced,
            SplitStrategy::Callgraph => llpar::Strategy::CallGraph,
            SplitStrategy::PerFunction => llpar::Strategy::PerFunction,
            SplitStrategy::RoundRobin => llpar::Strategy::RoundRobin,
        },
        units: cli.units.map(|n| n as usize),
        target_size: cli.target_size,
    };
    let prefix = Path::new(&cli.output);
    check_output_dir(prefix)?;
    let units = llpar::units::split(&input, &cli.input, &options)?;
    for warning in &units.warnings {
        note!("llpar: warning: {warning}");
    }
    // All units or none: each goes to a temporary file first, renamed once all are written.
    let mut written = Vec::new();
    for (i, bytes) in units.bitcode.iter().enumerate() {
        let path = PathBuf::from(format!("{}{i}", cli.output));
        let tmp = temporary_path(&path);
        llpar::register_temporary_file(&tmp);
        if let Err(e) = std::fs::write(&tmp, bytes) {
            for (t, _) in &written {
                let _ = std::fs::remove_file(t);
            }
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::failure(format!(
                "{}: cannot write: {e}",
                path.display()
            )));
        }
        written.push((tmp, path));
    }
    for (tmp, path) in &written {
        std::fs::rename(tmp, path)
            .map_err(|e| Error::failure(format!("{}: cannot write: {e}", path.display())))?;
        llpar::unregister_temporary_file(tmp);
    }
    match cli.report.as_deref() {
        None => {}
        Some("-") => {
            let _ = write!(std::io::stderr(), "{}", units.report);
        }
        Some(file) => write_output(file, units.report.to_string().as_bytes())?,
    }
    Ok(())
}

fn merge_command(args: &[String]) -> Result<(), Error> {
    let cli = MergeCli::parse_from(
        std::iter::once("llpar merge".to_string()).chain(args.iter().cloned()),
    );
    if cli.output == "-" && !cli.text && std::io::stdout().is_terminal() {
        return Err(Error::usage(
            "refusing to write binary output to a terminal; use -o FILE, -o - with a pipe, or -S",
        ));
    }
    let mut units = Vec::new();
    for name in &cli.units {
        units.push((name.clone(), read_input(name)?));
    }
    let bitcode = llpar::units::merge(&units)?;
    let bytes = if cli.text {
        llpar::units::to_text(&bitcode)?
    } else {
        bitcode
    };
    write_output(&cli.output, &bytes)
}

/// `opt` and `llc` spell long options with one dash (`-passes=`, `-mtriple=`); accept that too.
fn normalize_args(args: impl Iterator<Item = String>) -> Vec<String> {
    const LONG: &[&str] = &[
        "passes",
        "mtriple",
        "mcpu",
        "mattr",
        "relocation-model",
        "reloc-model",
        "emit",
        "verify",
        "stats",
        "max-chunks",
        "min-chunk-cost",
        "save-temps",
        "simplify-before-inlining",
        "print-pipeline-passes",
        "time-trace",
        "isolate",
        "crash-dir",
        "max-memory",
        "time-trace-granularity",
        "quiet",
    ];
    args.map(|a| {
        let single = a.strip_prefix('-').filter(|r| !r.starts_with('-'));
        match single {
            Some(rest)
                if LONG
                    .iter()
                    .any(|l| rest == *l || rest.starts_with(&format!("{l}="))) =>
            {
                format!("-{a}")
            }
            _ => a,
        }
    })
    .collect()
}

/// `512M`, `2G`, `1500000000`: a size in bytes, with an optional K, M, G or T suffix (powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let shift = match unit
        .trim_end_matches(['B', 'b', 'i'])
        .to_ascii_uppercase()
        .as_str()
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("'{text}' is not a size (like 512M or 2G)")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .ok_or_else(|| format!("'{text}' is not a size (like 512M or 2G)"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(status) = llpar::chunk_worker_main(&args) {
        std::process::exit(status);
    }
    llpar::install_signal_handlers();
    llpar::install_panic_hook();
    // `llpar split` and `llpar merge`; anything else is an input (`./split` for a file so named).
    let subcommand = match args.get(1).map(String::as_str) {
        Some("split") => Some(split_command as fn(&[String]) -> Result<(), Error>),
        Some("merge") => Some(merge_command as fn(&[String]) -> Result<(), Error>),
        _ => None,
    };
    if let Some(command) = subcommand {
        if let Err(e) = command(&args[2..]) {
            note!("llpar: error: {e}");
            std::process::exit(e.exit_code());
        }
        return;
    }
    let cli = Cli::parse_from(normalize_args(std::env::args()));
    match run(cli) {
        Ok(()) => {}
        Err(e) => {
            note!("llpar: error: {e}");
            std::process::exit(e.exit_code());
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let pipeline = pipeline_request(&cli)?;
    let emit = emit_kind(&cli);
    let input_name = cli.input.clone().unwrap_or_else(|| "-".into());
    let output = cli.output.clone().unwrap_or_else(|| "-".into());
    check_outputs(&cli, emit, &output)?;
    let input = read_input(&input_name)?;
    let options = run_options(&cli, pipeline, emit)?;
    let display_name = if input_name == "-" {
        "<stdin>".to_string()
    } else {
        input_name.clone()
    };
    if cli.time_trace.is_some() {
        llpar::enable_time_trace(cli.time_trace_granularity);
    }
    let (bytes, stats) = llpar::run(&input, &display_name, &options)?;
    for warning in &stats.warnings {
        note!("llpar: warning: {warning}");
    }
    if let Some(reason) = &stats.remote.first_failure {
        note!(
            "llpar: warning: --remote-executor: {reason}; {} chunk(s) ran here instead",
            stats.remote.fell_back
        );
    }
    write_output(&output, &bytes)?;
    if let Some(path) = &cli.pass_remarks_output {
        write_output(&path.to_string_lossy(), &stats.remarks)?;
    }
    if let Some(path) = &cli.time_trace {
        let json = llpar::time_trace_json().unwrap_or_default();
        write_output(&path.to_string_lossy(), json.as_bytes())?;
    }
    if let Some(cache) = &options.cache {
        if cache.damaged() > 0 {
            note!(
                "llpar: warning: --cache-dir: {} damaged entries removed and computed again",
                cache.damaged()
            );
        }
        cache.prune();
    }
    if cli.stats {
        report_stats(&stats, &options);
    }
    Ok(())
}

/// `-O<n>` or `--passes`, not both; neither is a run without passes, as in `opt`.
fn pipeline_request(cli: &Cli) -> Result<PipelineRequest, Error> {
    Ok(match (&cli.level, &cli.passes) {
        (Some(level), Some(_)) => {
            return Err(Error::usage(format!(
            "-O{level} and --passes cannot be used together; use --passes='default<O{level}>,...'"
        )))
        }
        (Some(level), None) => {
            let (speed, size) = match level.as_str() {
                "s" => (2, 1),
                "z" => (2, 2),
                n => (n.parse().expect("clap checked the level"), 0),
            };
            PipelineRequest::Level { speed, size }
        }
        (None, Some(p)) => PipelineRequest::Text(p.clone()),
        (None, None) => PipelineRequest::Text(String::new()),
    })
}

fn emit_kind(cli: &Cli) -> EmitKind {
    match (cli.emit, cli.text) {
        (Some(Emit::Bc), _) => EmitKind::Bitcode,
        (Some(Emit::Ll), _) | (None, true) => EmitKind::Ir,
        (Some(Emit::Asm), _) => EmitKind::Asm,
        (Some(Emit::Obj), _) => EmitKind::Object,
        (None, false) => EmitKind::Bitcode,
    }
}

/// Refuses, before any work, an output that cannot be written: binary output to a terminal,
/// or a file in a directory that does not exist.
fn check_outputs(cli: &Cli, emit: EmitKind, output: &str) -> Result<(), Error> {
    if output == "-"
        && matches!(emit, EmitKind::Bitcode | EmitKind::Object)
        && std::io::stdout().is_terminal()
    {
        return Err(Error::usage(
            "refusing to write binary output to a terminal; use -o FILE, -o - with a pipe, or -S",
        ));
    }
    if output != "-" {
        check_output_dir(Path::new(output))?;
    }
    if let Some(path) = &cli.pass_remarks_output {
        check_output_dir(path)?;
    }
    Ok(())
}

/// The number of workers (`-j`, else every core), and the make jobserver to take tokens from.
fn workers(cli: &Cli) -> (usize, Option<std::sync::Arc<llpar::Jobserver>>) {
    let threads = cli
        .jobs
        .map(|j| j as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // Under make -jN or cargo: a token for every worker beyond the first. A jobserver that is
    // named but not passed down means make wants this command to run alone, as make does itself.
    match llpar::Jobserver::from_env() {
        Ok(js) => (threads, js.map(std::sync::Arc::new)),
        Err(e) => {
            if threads > 1 {
                note!("llpar: warning: {e}; running one worker");
            }
            (1, None)
        }
    }
}

fn target_options(cli: &Cli) -> TargetOptions {
    TargetOptions {
        triple: cli.mtriple.clone(),
        cpu: cli.mcpu.clone(),
        features: cli.mattr.clone(),
        reloc: match cli.reloc {
            Reloc::Pic => RelocModel::Pic,
            Reloc::Static => RelocModel::Static,
            Reloc::DynamicNoPic => RelocModel::DynamicNoPic,
        },
        codegen_level: match cli.level.as_deref() {
            Some("0") => 0,
            Some("1") => 1,
            Some("3") => 3,
            _ => 2,
        },
    }
}

fn plan_options(cli: &Cli) -> PlanOptions {
    match cli.max_chunks {
        // Asked for, the cap is a cap, whatever the module's size.
        Some(max_chunks) => PlanOptions {
            min_chunk_cost: cli.min_chunk_cost,
            max_chunks,
            large_chunk_cost: u64::MAX,
        },
        None => PlanOptions {
            min_chunk_cost: cli.min_chunk_cost,
            ..PlanOptions::default()
        },
    }
}

fn run_options(cli: &Cli, pipeline: PipelineRequest, emit: EmitKind) -> Result<Options, Error> {
    let (threads, jobserver) = workers(cli);
    let isolate = match cli.isolate {
        true => Some(std::env::current_exe().map_err(|e| {
            Error::failure(format!(
                "--isolate: cannot find llpar's own executable: {e}"
            ))
        })?),
        false => None,
    };
    let remote = remote_executor(cli)?;
    let cache = match &cli.cache_dir {
        Some(dir) => Some(std::sync::Arc::new(
            llpar::Cache::open(dir, cli.cache_max_size)
                .map_err(|e| Error::failure(format!("--cache-dir: {e}")))?,
        )),
        None => None,
    };
    Ok(Options {
        pipeline,
        threads,
        target: target_options(cli),
        verify_each: cli.verify,
        plan: plan_options(cli),
        emit,
        save_temps: cli.save_temps.clone(),
        simplify_before_inlining: cli.simplify_before_inlining,
        parallel_inliner: cli.inliner == InlinerMode::Parallel,
        print_pipeline: cli.print_pipeline_passes,
        crash_dir: cli
            .crash_dir
            .clone()
            .or_else(|| cli.save_temps.clone())
            .unwrap_or_else(std::env::temp_dir),
        isolate,
        max_memory: cli.max_memory,
        progress: !cli.quiet && std::io::stderr().is_terminal(),
        jobserver,
        remarks: cli
            .pass_remarks_output
            .as_ref()
            .map(|_| cli.pass_remarks_filter.clone().unwrap_or_default()),
        remote,
        remote_fallback: cli.remote_fallback,
        cache,
    })
}

/// `--stats`: where the time went, or that the whole output came from the cache.
fn report_stats(stats: &Stats, options: &Options) {
    if stats.cached_output {
        note!(
            "llpar: the whole output from the cache (--cache-dir), wall {:.1} ms",
            stats.wall.as_secs_f64() * 1000.0
        );
        return;
    }
    print_stats(stats, options.threads);
    if options.remote.is_some() {
        print_remote(&stats.remote);
    }
    match &stats.debug_units {
        Some(Ok((before, after))) => {
            note!("llpar: debug info: {before} compile units joined into {after}, one per source")
        }
        Some(Err(why)) => note!("llpar: debug info: compile units kept per chunk: {why}"),
        None => {}
    }
    if options.cache.is_some() {
        let chunks: usize = stats.parallel_phases.iter().map(|p| p.chunks.len()).sum();
        note!(
            "llpar: cache: {} of {chunks} chunk results from the cache",
            stats.cached_chunks
        );
    }
}

/// The connection to `--remote-executor`, if asked for: unreachable, it is an error, or with
/// `--remote-fallback` a warning and a local run.
fn remote_executor(cli: &Cli) -> Result<Option<std::sync::Arc<llpar::Remote>>, Error> {
    let Some(url) = &cli.remote_executor else {
        return Ok(None);
    };
    let timeout = std::time::Duration::from_secs(cli.remote_timeout.max(1));
    match llpar::Remote::connect(url, &cli.remote_instance, timeout) {
        Ok(remote) => Ok(Some(std::sync::Arc::new(remote))),
        Err(e) if cli.remote_fallback => {
            note!("llpar: warning: --remote-executor: {e}; running every chunk here");
            Ok(None)
        }
        Err(e) => Err(Error::failure(format!("--remote-executor: {e}"))),
    }
}

fn read_input(name: &str) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    if name == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Error::failure(format!("<stdin>: cannot read: {e}")))?;
    } else {
        bytes =
            std::fs::read(name).map_err(|e| Error::failure(format!("{name}: cannot read: {e}")))?;
    }
    Ok(bytes)
}

fn check_output_dir(path: &Path) -> Result<(), Error> {
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(Error::failure(format!(
            "{}: cannot write: no such directory '{}'",
            path.display(),
            dir.display()
        )));
    }
    if path.is_dir() {
        return Err(Error::failure(format!(
            "{}: cannot write: is a directory",
            path.display()
        )));
    }
    Ok(())
}

/// Where `path` is written before it is renamed into place: the same directory, a hidden name.
fn temporary_path(path: &Path) -> PathBuf {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parent_dir(path).join(format!(".{file_name}.llpar-{}.tmp", std::process::id()))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `output` atomically: a temporary file in the same directory, then a rename,
/// so a failed run never leaves a partial output file.
fn write_output(output: &str, bytes: &[u8]) -> Result<(), Error> {
    if output == "-" {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(bytes)
            .and_then(|_| out.flush())
            .map_err(|e| Error::failure(format!("<stdout>: cannot write: {e}")));
    }
    let path = Path::new(output);
    // A device, pipe or socket (/dev/null, /dev/stdout, a FIFO) is written in place, as opt does:
    // renaming a temporary file over it would replace the device with a regular file.
    if path.metadata().is_ok_and(|m| !m.is_file()) {
        return std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| f.write_all(bytes).and_then(|_| f.flush()))
            .map_err(|e| Error::failure(format!("{output}: cannot write: {e}")));
    }
    let tmp = temporary_path(path);
    llpar::register_temporary_file(&tmp);
    let result = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path));
    llpar::unregister_temporary_file(&tmp);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::failure(format!("{output}: cannot write: {e}")));
    }
    Ok(())
}

/// Extraction of the chunks: by the calling thread, serial, it bounds the parallel phases once
/// the workers outnumber what one thread can feed; by the workers, from copies of the home
/// module, only writing the home module is serial.
fn print_extraction(stats: &Stats) {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let sum = |copies: bool| -> std::time::Duration {
        let phases = stats.parallel_phases.iter();
        phases
            .filter(|p| p.copies.is_some() == copies)
            .flat_map(|p| &p.extract)
            .sum()
    };
    let copies = stats
        .parallel_phases
        .iter()
        .filter_map(|p| p.copies.as_ref());
    let write: std::time::Duration = copies.clone().map(|c| c.write).sum();
    let read: std::time::Duration = copies.flat_map(|c| &c.read).sum();
    note!(
        "llpar: extraction {:.1} ms on the calling thread; in the workers {:.1} ms, after writing the home module ({:.1} ms) and reading it in each worker ({:.1} ms in all)",
        ms(sum(false)),
        ms(sum(true)),
        ms(write),
        ms(read)
    );
}

/// For a phase of dependent chunks (the call-graph walk), the chain that serializes it.
fn print_chain(phase: &llpar::ParallelPhase) {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let (chain, total) = phase.critical_chain();
    let Some(&costliest) = chain.iter().max_by_key(|&&c| phase.chunks[c].1) else {
        return;
    };
    let all: std::time::Duration = phase.chunks.iter().map(|(_, d)| *d).sum();
    let (name, d) = &phase.chunks[costliest];
    note!(
        "llpar: call-graph chain: {} dependent chunks ({}), {:.1} ms of the phase's {:.1} ms of chunk time, at best {:.1}x over one worker; costliest on it: {name}, {:.1} ms",
        chain.len(),
        chain.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" -> "),
        ms(total),
        ms(all),
        all.as_secs_f64() / total.as_secs_f64().max(1e-9),
        ms(*d)
    );
}

fn print_remote(remote: &llpar::RemoteSummary) {
    let ms = |d: std::time::Duration| d.as_millis();
    note!(
        "llpar: remote: {} chunks ran remotely, {} of them from the action cache; upload {} ms, queued {} ms, executing {} ms (summed over chunks)",
        remote.chunks,
        remote.from_action_cache,
        ms(remote.upload),
        ms(remote.queued),
        ms(remote.executing)
    );
    if let Some(reason) = &remote.first_failure {
        note!(
            "llpar: remote: {} chunks ran here instead (--remote-fallback): {reason}",
            remote.fell_back
        );
    }
}

fn print_stats(stats: &Stats, threads: usize) {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    note!(
        "llpar: {} worker thread(s), {} chunk(s), total cost {} instructions",
        threads,
        stats.chunks,
        stats.total_cost
    );
    if stats.chunks > 0 {
        note!(
            "llpar: largest chunk: cost {} ({})",
            stats.largest_chunk_cost,
            stats.largest_chunk
        );
    }
    for s in &stats.pipeline_segments {
        let shown: String = s.chars().take(160).collect();
        note!(
            "llpar: segment {shown}{}",
            if s.len() > 160 { "..." } else { "" }
        );
    }
    for (phase, d) in &stats.phases {
        note!("llpar: {:<16} {:>9.1} ms", phase, ms(*d));
    }
    print_extraction(stats);
    let outside = stats.wall.saturating_sub(stats.parallel_wall);
    if stats.parallel_phases.is_empty() {
        note!("llpar: critical path: no parallel phase (no function bodies to split, or no per-chunk passes)");
    } else {
        let predictions: Vec<String> = [1, 2, 4, 8, 16, 32, 64]
            .iter()
            .map(|&w| {
                let p = stats.predicted_wall(w);
                format!(
                    "{w}: {:.0} ms ({:.2}x of 1)",
                    ms(p),
                    stats.predicted_wall(1).as_secs_f64() / p.as_secs_f64().max(1e-9)
                )
            })
            .collect();
        note!(
            "llpar: predicted wall time by workers (from this run's chunk times): {}",
            predictions.join(", ")
        );
        if let Some((chunk, d)) = stats.critical_chunk() {
            note!("llpar: critical path: {chunk}, {:.1} ms", ms(d));
        }
        for phase in &stats.parallel_phases {
            print_chain(phase);
        }
    }
    note!(
        "llpar: at most {} chunk(s) at once; peak memory {:.0} MiB",
        stats.most_chunks_at_once,
        stats.peak_memory as f64 / (1u64 << 20) as f64
    );
    note!(
        "llpar: wall {:.1} ms; parallel phases {:.1} ms (workers busy {:.1} ms); outside the parallel phases {:.1}%",
        ms(stats.wall),
        ms(stats.parallel_wall),
        ms(stats.worker_busy),
        100.0 * outside.as_secs_f64() / stats.wall.as_secs_f64().max(1e-9)
    );
}
