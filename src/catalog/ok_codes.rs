//! An install-apps app's `ok_codes: [1638]`: the extra exit codes that mean
//! "installed" for that app's installer.
//!
//! Some bootstrappers report a state, not a failure, in an error code: the
//! Visual C++ redistributable exits 1638 (ERROR_PRODUCT_VERSION) when the
//! same or a newer runtime is already installed. Listing the code lets the
//! app count as installed while its real code is still reported.

use crate::source::fields::Reader;
use crate::source::yaml::{Node, Value};

/// Codes every app already counts as installed: success, and success with a
/// restart needed (3010) or started (1641).
pub const ALWAYS_OK: [i64; 3] = [0, 3010, 1641];

/// ERROR_INSTALL_ALREADY_RUNNING, and the HRESULT 0x80070652 bootstrappers
/// report it in (as a process exit code, negative): the generated script
/// waits a busy installer out and retries, so these never mean "installed".
const BUSY: [i64; 3] = [1618, 0x8007_0652, 0x8007_0652 - (1 << 32)];

/// Reads `ok_codes:` (a list of integers), reporting every entry that is not
/// an exit code, cannot mean success, or is listed twice. Returns the valid ones.
pub fn parse(r: &mut Reader<'_>, node: &Node) -> Vec<i64> {
    let Some(items) = r.list(node, "ok_codes") else {
        return Vec::new();
    };
    let mut codes: Vec<i64> = Vec::new();
    for item in items {
        if let Some(code) = code(r, item)
            && acceptable(r, item, code, &codes)
        {
            codes.push(code);
        }
    }
    codes
}

/// One entry: an integer a process can exit with (Windows exit codes are 32-bit).
fn code(r: &mut Reader<'_>, item: &Node) -> Option<i64> {
    let fits = |i: i64| i >= i64::from(i32::MIN) && i <= i64::from(u32::MAX);
    match &item.value {
        Value::Int(i) if fits(*i) => Some(*i),
        Value::Int(i) => {
            r.error(
                item.pos,
                format!("`ok_codes` entry {i} is not a 32-bit exit code"),
            );
            None
        }
        Value::Str(s) if s.trim().parse::<i64>().is_ok() => {
            r.error_help(
                item.pos,
                format!("`ok_codes` entry \"{s}\" is quoted"),
                format!("write the exit code as a number: {}", s.trim()),
            );
            None
        }
        _ => {
            r.error_help(
                item.pos,
                format!(
                    "`ok_codes` entry is {}, not an exit code",
                    kind(&item.value)
                ),
                "list the installer's exit codes as integers, e.g. `ok_codes: [1638]`",
            );
            None
        }
    }
}

/// Whether `code` may be listed: not already success, not the busy installer, not twice.
fn acceptable(r: &mut Reader<'_>, item: &Node, code: i64, listed: &[i64]) -> bool {
    if ALWAYS_OK.contains(&code) {
        r.error_help(
            item.pos,
            format!("`ok_codes` lists {code}, which already counts as installed"),
            "0, 3010 and 1641 are success for every app and need no listing",
        );
        return false;
    }
    if BUSY.contains(&code) {
        r.error_help(
            item.pos,
            format!("`ok_codes` lists {code}: Windows Installer is busy with another install (1618)"),
            "goldsmith waits a busy installer out and retries; the code cannot mean the app is installed",
        );
        return false;
    }
    if listed.contains(&code) {
        r.error(item.pos, format!("`ok_codes` lists {code} twice"));
        return false;
    }
    true
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Float(_) => "a decimal number",
        Value::Str(_) => "a string",
        Value::Seq(_) => "a list",
        Value::Map(_) => "a mapping",
        Value::Int(_) => "an integer",
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::source::{Diagnostics, file};

    fn read(yaml: &str) -> (Vec<i64>, Vec<String>) {
        let root = file::parse(yaml, Path::new("op.yaml")).expect("valid YAML");
        let Value::Map(entries) = &root.value else {
            panic!("a mapping");
        };
        let mut diags = Diagnostics::default();
        let mut r = Reader {
            file: PathBuf::from("op.yaml"),
            diags: &mut diags,
        };
        let codes = parse(&mut r, &entries[0].1);
        let errors = diags.items.iter().map(|d| d.headline()).collect();
        (codes, errors)
    }

    #[test]
    fn a_list_of_exit_codes() {
        assert_eq!(
            read("ok_codes: [1638, -2147024891]\n"),
            (vec![1638, -2147024891], vec![])
        );
        assert_eq!(read("ok_codes: []\n"), (vec![], vec![]));
    }

    #[test]
    fn each_bad_entry_is_reported_where_it_is() {
        let (codes, errors) = read("ok_codes:\n  - 1638\n  - \"1605\"\n  - true\n  - 1.5\n");
        assert_eq!(codes, vec![1638]);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].contains(":3:") && errors[0].contains("is quoted"),
            "{errors:?}"
        );
        assert!(
            errors[1].contains(":4:") && errors[1].contains("a boolean"),
            "{errors:?}"
        );
        assert!(
            errors[2].contains(":5:") && errors[2].contains("a decimal number"),
            "{errors:?}"
        );
    }

    #[test]
    fn codes_that_cannot_mean_installed_are_refused() {
        let (codes, errors) = read("ok_codes: [3010, 1618, 2147944018, 1638, 1638, 99999999999]\n");
        assert_eq!(codes, vec![1638]);
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors[0].contains("3010, which already counts as installed"));
        assert!(errors[1].contains("1618: Windows Installer is busy"));
        assert!(errors[2].contains("2147944018: Windows Installer is busy"));
        assert!(errors[3].contains("1638 twice"));
        assert!(errors[4].contains("not a 32-bit exit code"));
    }

    #[test]
    fn not_a_list() {
        let (codes, errors) = read("ok_codes: 1638\n");
        assert!(codes.is_empty());
        assert_eq!(errors.len(), 1, "{errors:?}");
    }
}
