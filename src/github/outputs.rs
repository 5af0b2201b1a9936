//! The `GITHUB_OUTPUT` and `GITHUB_ENV` file commands: appends `name<<delimiter`
//! heredocs the runner reads after the step.
//!
//! This module owns the file format and its injection guards (CVE-2022-35954);
//! it knows nothing of runs: callers pass the names and values.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Appends each `(name, value)` to `path` (the file named by `GITHUB_OUTPUT`).
///
/// Every value gets its own `ghadelimiter_<uuid v4>`, as @actions/core
/// `prepareKeyValueMessage` does. Every pair is checked before anything is
/// written, so a refused pair leaves the file as it was.
pub fn append_outputs<N: AsRef<str>, V: AsRef<str>>(
    path: &Path,
    pairs: &[(N, V)],
) -> io::Result<()> {
    let mut text = String::new();
    for (name, value) in pairs {
        text.push_str(&key_value_message(name.as_ref(), value.as_ref())?);
    }
    let mut file = OpenOptions::new().append(true).create(true).open(path)?;
    file.write_all(text.as_bytes())?;
    file.flush()
}

/// `name<<DELIM\nvalue\nDELIM\n`, or an error when the runner would read it
/// as something else.
pub fn key_value_message(name: &str, value: &str) -> io::Result<String> {
    heredoc(
        name,
        value,
        &format!("ghadelimiter_{}", uuid::Uuid::new_v4()),
    )
}

/// A path as a later step on the host can use it: relative to the workspace.
///
/// A container action sees the workspace at `/github/workspace`, the host at
/// its own path (`/home/runner/work/repo/repo`), and both resolve relative
/// paths against the workspace. `Err` carries the absolute path of a file
/// outside the workspace, which no later step can open.
pub fn workspace_relative(path: &Path, workspace: &Path) -> Result<PathBuf, PathBuf> {
    let real = |p: &Path| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| std::path::absolute(p).unwrap_or(p.to_path_buf()))
    };
    let (path, workspace) = (real(path), real(workspace));
    match path.strip_prefix(&workspace) {
        Ok(rel) if rel.as_os_str().is_empty() => Ok(PathBuf::from(".")),
        Ok(rel) => Ok(rel.to_path_buf()),
        Err(_) => Err(path),
    }
}

fn heredoc(name: &str, value: &str, delimiter: &str) -> io::Result<String> {
    let refuse = |what: String| Err(io::Error::new(io::ErrorKind::InvalidInput, what));
    if name.is_empty() {
        return refuse("an output name must not be empty".into());
    }
    // The runner splits the first line at the first `<<` or `=`, whichever
    // comes first: either inside the name would make the value's lines parse
    // as further outputs of the value's choosing.
    if name.contains("<<") || name.contains('=') {
        return refuse(format!(
            "output name `{name}` must not contain `<<` or `=`: the runner would split it there"
        ));
    }
    if name.contains(['\n', '\r']) {
        return refuse(format!(
            "output name {name:?} must not contain a line break: the rest would be read as another output"
        ));
    }
    if name.contains(delimiter) {
        return refuse(format!(
            "output name `{name}` contains the delimiter `{delimiter}`"
        ));
    }
    if value.contains(delimiter) {
        return refuse(format!(
            "the value of output `{name}` contains the delimiter `{delimiter}`"
        ));
    }
    Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_given_relative_to_the_workspace() {
        let ws = tempfile::tempdir().expect("tempdir");
        let inside = ws.path().join("infra/artifacts/runs/r1");
        std::fs::create_dir_all(&inside).expect("mkdir");
        assert_eq!(
            workspace_relative(&inside, ws.path()),
            Ok(PathBuf::from("infra/artifacts/runs/r1"))
        );
        assert_eq!(
            workspace_relative(&ws.path().join("infra/../infra/artifacts"), ws.path()),
            Ok(PathBuf::from("infra/artifacts"))
        );
        assert_eq!(
            workspace_relative(ws.path(), ws.path()),
            Ok(PathBuf::from("."))
        );
        let outside = tempfile::tempdir().expect("tempdir");
        assert!(workspace_relative(outside.path(), ws.path()).is_err());
    }

    #[test]
    fn each_value_gets_its_own_delimiter() {
        let a = key_value_message("a", "x").expect("valid");
        let b = key_value_message("a", "x").expect("valid");
        assert_ne!(a, b);
        let first = a.lines().next().expect("a first line");
        let delimiter = first.strip_prefix("a<<").expect("heredoc");
        assert!(delimiter.starts_with("ghadelimiter_"));
        assert_eq!(a, format!("a<<{delimiter}\nx\n{delimiter}\n"));
    }

    #[test]
    fn refuses_names_the_runner_would_split() {
        for name in ["", "a<<b", "a=b", "a\nb", "a\rb"] {
            let err = key_value_message(name, "v").expect_err(name);
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{name:?}");
        }
    }

    #[test]
    fn refuses_a_name_or_value_holding_the_delimiter() {
        let d = "ghadelimiter_x";
        assert!(heredoc("n", "a\nghadelimiter_x\nevil<<y", d).is_err());
        assert!(heredoc("nghadelimiter_x", "v", d).is_err());
        assert_eq!(
            heredoc("n", "v", d).expect("valid"),
            "n<<ghadelimiter_x\nv\nghadelimiter_x\n"
        );
    }
}
