//! Seeded mutations of the shipped catalog and config, loaded in-process: the
//! loader never panics, never hangs, and every error it reports has a position.
//!
//! Deterministic: the same seed makes the same mutants, so a failure names a
//! mutant number that reproduces. Each mutant is loaded as a project of its
//! own, holding the mutated file and the config (the shipped project whole
//! once, unmutated), so that 1,000+ mutants take seconds, not minutes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use goldsmith::catalog::Catalog;
use goldsmith::config::Config;
use goldsmith::plan::{self, PlanOptions};
use goldsmith::source::{Diagnostics, Severity};

const MUTANTS: usize = 1200;
const SEED: u64 = 0x5eed_901d_5a17;
const PER_MUTANT: Duration = Duration::from_secs(10);

/// xorshift64*: small, seeded, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn shipped_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("readable")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = vec![root.join("config.yaml")];
    walk(&root.join("capabilities"), &mut files);
    walk(&root.join("modules"), &mut files);
    files
        .into_iter()
        .map(|p| p.strip_prefix(root).expect("under root").to_path_buf())
        .collect()
}

const PUNCTUATION: &[&str] = &[
    ":", "- ", "[", "]", "{", "}", "\"", "'", "&a ", "*a", "!", "|", ">", "#", "\t", "{{", "}}",
    "%", "@", "`", ",", "? ", "---\n", "\n", "\u{feff}", "\0", "{{ X }}", "$((", "<<EOF",
];

/// One mutation of `text`; returns the mutated bytes and what was done.
fn mutate(text: &[u8], rng: &mut Rng) -> (Vec<u8>, String) {
    let mut bytes = text.to_vec();
    let lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
    let line = rng.below(lines.len());
    let line_start: usize = lines[..line].iter().map(|l| l.len()).sum();
    match rng.below(6) {
        0 => {
            let at = rng.below(bytes.len());
            let bit = 1u8 << rng.below(8);
            if let Some(b) = bytes.get_mut(at) {
                *b ^= bit;
            }
            (bytes, format!("flip bit {bit:#x} at byte {at}"))
        }
        1 => {
            let mut out: Vec<u8> = lines[..line].concat();
            out.extend(lines[line + 1..].concat());
            (out, format!("delete line {}", line + 1))
        }
        2 => {
            let mut out: Vec<u8> = lines[..=line].concat();
            out.extend(lines[line..].concat());
            (out, format!("duplicate line {}", line + 1))
        }
        3 => {
            let n = 1 + rng.below(4);
            if rng.below(2) == 0 {
                for _ in 0..n {
                    bytes.insert(line_start, b' ');
                }
                (bytes, format!("indent line {} by {n}", line + 1))
            } else {
                let spaces = bytes[line_start..]
                    .iter()
                    .take_while(|b| **b == b' ')
                    .count();
                bytes.drain(line_start..line_start + spaces.min(n));
                (bytes, format!("dedent line {} by {n}", line + 1))
            }
        }
        4 => {
            let at = rng.below(bytes.len());
            bytes.truncate(at);
            (bytes, format!("truncate at byte {at}"))
        }
        _ => {
            let p = PUNCTUATION[rng.below(PUNCTUATION.len())];
            let at = rng.below(bytes.len() + 1);
            bytes.splice(at..at, p.bytes());
            (bytes, format!("insert {p:?} at byte {at}"))
        }
    }
}

/// The loader as `validate` runs it: catalog, config, a plan of every module,
/// the checks of every operation.
/// `config` is the shipped config, already loaded, when the mutant is another file.
fn load(root: &Path, config: Option<Config>) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let mut catalog = Catalog::load(root, &mut diags);
    let env: HashMap<String, String> = HashMap::new();
    let config = config.unwrap_or_else(|| {
        Config::load(
            root,
            &root.join("config.yaml"),
            Path::new("config.yaml"),
            false,
            &env,
            &mut catalog.sources,
            &mut diags,
        )
    });
    for module in &catalog.modules {
        plan::build(
            &catalog,
            module,
            &config,
            PlanOptions {
                secrets: goldsmith::plan::SecretCheck::Noted,
            },
            &mut diags,
        );
    }
    for op in &catalog.operations {
        plan::check_operation(&catalog, op, &config, &mut diags);
    }
    diags
}

fn config_index(files: &[PathBuf]) -> usize {
    files
        .iter()
        .position(|f| f == Path::new("config.yaml"))
        .expect("config.yaml is shipped")
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn mutants_of_the_shipped_files_never_panic_hang_or_lose_a_position() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = shipped_files(shipped);
    let originals: Vec<Vec<u8>> = files
        .iter()
        .map(|rel| std::fs::read(shipped.join(rel)).expect("shipped file"))
        .collect();
    // The shipped project itself loads without errors: mutants start from a clean slate.
    let whole = tempfile::tempdir().expect("tempdir");
    for (rel, bytes) in files.iter().zip(&originals) {
        write(&whole.path().join(rel), bytes);
    }
    let clean = load(whole.path(), None);
    assert_eq!(clean.error_count(), 0, "{:?}", clean.items);

    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    write(&root.join("config.yaml"), &originals[config_index(&files)]);
    let config = config_index(&files);
    let shipped_config = {
        let mut sources = goldsmith::source::Sources::default();
        let mut d = Diagnostics::default();
        Config::load(
            whole.path(),
            &whole.path().join("config.yaml"),
            Path::new("config.yaml"),
            false,
            &HashMap::new(),
            &mut sources,
            &mut d,
        )
    };
    let mut rng = Rng(SEED);
    let started = Instant::now();
    let mut with_errors = 0;
    let mut load_time = Duration::ZERO;
    for n in 0..MUTANTS {
        let f = rng.below(files.len());
        let (mutant, what) = mutate(&originals[f], &mut rng);
        let path = root.join(&files[f]);
        write(&path, &mutant);
        let t_load = Instant::now();
        let (send, receive) = mpsc::channel();
        let r = root.clone();
        let reused = (f != config).then(|| shipped_config.clone());
        let worker = std::thread::spawn(move || {
            let _ = send.send(load(&r, reused));
        });
        let label = format!("mutant #{n} of {}: {what}", files[f].display());
        let diags = match receive.recv_timeout(PER_MUTANT) {
            Ok(d) => d,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("{label}: the loader hung"),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = worker.join();
                panic!("{label}: the loader panicked");
            }
        };
        let _ = worker.join();
        load_time += t_load.elapsed();
        for d in diags.items.iter().filter(|d| d.severity == Severity::Error) {
            assert!(
                d.pos.line >= 1 && d.pos.col >= 1 && !d.file.as_os_str().is_empty(),
                "{label}: error without a position: {d:?}"
            );
        }
        if diags.has_errors() {
            with_errors += 1;
        }
        // Next mutant: a project of its own again (empty folders are harmless).
        if f == config {
            write(&path, &originals[config]);
        } else {
            std::fs::remove_file(&path).expect("remove mutant");
        }
    }
    let took = started.elapsed();
    eprintln!("{MUTANTS} mutants in {took:?} ({load_time:?} loading), {with_errors} with errors");
    // The mutations must actually break things, or the test proves nothing.
    assert!(
        with_errors > MUTANTS / 4,
        "only {with_errors} mutants had errors"
    );
    assert!(
        took < Duration::from_secs(60),
        "{MUTANTS} mutants took {took:?}"
    );
}
