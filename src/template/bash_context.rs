//! Where bash would treat a value as code, a number or a variable name.
//!
//! Quoting stops word splitting and globbing, but bash still evaluates some
//! words after expansion: operands of `[[ … -gt … ]]`, `let`, array
//! subscripts and variables declared `-i` are arithmetic (and arithmetic
//! evaluates `a[$(cmd)]`); `printf -v`, `read`, `declare`, `[[ -v ]]` and
//! namerefs take a variable name (and a name with a subscript is arithmetic
//! too); `eval`, `sh -c`, `source`, `trap` and `alias` run their argument as
//! code. This module looks at one simple command, split into words, and says
//! which of those a placeholder in it is. It is a lint: it knows the builtins
//! and the usual wrappers (`sudo`, `env`, `xargs`), not every program.

use std::collections::HashSet;

/// What a placeholder's final value must look like where it stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Arithmetic: only `^-?[0-9]+$`. A name is not enough, because bash
    /// evaluates a variable's value as arithmetic again, recursively.
    Integer,
    /// A variable name: `^[A-Za-z_][A-Za-z0-9_]*$` (no subscript).
    Name,
}

impl Need {
    /// Whether `value` is safe where this need applies.
    pub fn accepts(self, value: &str) -> bool {
        match self {
            Need::Integer => {
                let digits = value.strip_prefix('-').unwrap_or(value);
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            }
            Need::Name => crate::config::is_var_name(value),
        }
    }
}

/// What one placeholder in one command is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Its value would run as code (the command: `eval`, `bash -c`, …).
    Code(String),
    /// Its value must be a plain integer or name; the text says why.
    Needs(Need, String),
}

/// Variables the script declares with attributes that change assignment.
#[derive(Debug, Default)]
pub struct Declared {
    /// `declare -i`: assignments are arithmetic.
    pub integers: HashSet<String>,
    /// `declare -n`: assignments are variable names.
    pub namerefs: HashSet<String>,
    /// `declare -A`: subscripts are strings, not arithmetic.
    pub assoc: HashSet<String>,
}

const ARITH_OPS: &[&str] = &["-eq", "-ne", "-lt", "-le", "-gt", "-ge"];
const SHELLS: &[&str] = &[
    "bash", "sh", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "rbash",
];
const EVAL_LIKE: &[&str] = &["eval", "source", ".", "trap", "alias"];
const KEYWORDS: &[&str] = &[
    "!", "if", "then", "elif", "else", "do", "while", "until", "time", "{", "(",
];
/// Commands that run the next word as a command.
const WRAPPERS: &[&str] = &[
    "command", "builtin", "exec", "sudo", "env", "nohup", "nice", "timeout", "xargs", "stdbuf",
    "setsid",
];

/// Splits one simple command into words (byte ranges into `text`), keeping
/// quoted strings and `$( … )`, `${ … }`, backticks inside their word.
pub fn split_words(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<u8> = None;
    let mut depth = 0usize;
    let mut backtick = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if quote == Some(b'\'') {
            if c == b'\'' {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == b'\\' {
            start.get_or_insert(i);
            i += 2;
            continue;
        }
        let boundary = quote.is_none() && depth == 0 && !backtick;
        if boundary && c.is_ascii_whitespace() {
            if let Some(s) = start.take() {
                words.push((s, i));
            }
            i += 1;
            continue;
        }
        start.get_or_insert(i);
        match c {
            b'\'' if quote.is_none() => quote = Some(b'\''),
            b'"' => {
                quote = if quote == Some(b'"') {
                    None
                } else {
                    Some(b'"')
                }
            }
            b'`' => backtick = !backtick,
            b'$' if matches!(bytes.get(i + 1), Some(b'(' | b'{' | b'[')) => {
                depth += 1;
                i += 2;
                continue;
            }
            b'(' if depth > 0 || quote.is_none() => depth += 1,
            b')' | b'}' | b']' if depth > 0 => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    if let Some(s) = start {
        words.push((s, bytes.len().min(text.len())));
    }
    words
}

/// A word with its quotes and backslashes removed (good enough to compare with
/// operators and builtin names).
pub fn unquote(word: &str) -> String {
    word.chars()
        .filter(|c| !matches!(c, '"' | '\'' | '\\'))
        .collect()
}

fn basename(word: &str) -> String {
    let w = unquote(word);
    w.rsplit('/').next().unwrap_or("").to_string()
}

/// `NAME=`, `NAME+=`, `NAME[sub]=`: returns the name and where `=` is.
fn assignment(word: &str) -> Option<(&str, usize)> {
    let name_end = word
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(word.len());
    let name = &word[..name_end];
    if !crate::config::is_var_name(name) {
        return None;
    }
    let mut rest = name_end;
    if word[rest..].starts_with('[') {
        rest += word[rest..].find(']')? + 1;
    }
    if word[rest..].starts_with("+=") {
        return Some((name, rest + 1));
    }
    word[rest..].starts_with('=').then_some((name, rest))
}

/// Index of the word that names the command, after assignments, keywords and wrappers.
fn command_index(words: &[&str]) -> Option<usize> {
    let mut i = 0;
    let mut after_wrapper = false;
    while i < words.len() {
        let w = unquote(words[i]);
        let base = basename(words[i]);
        if KEYWORDS.contains(&w.as_str()) || assignment(words[i]).is_some() {
            i += 1;
            continue;
        }
        if after_wrapper && (w.starts_with('-') || w.bytes().all(|b| b.is_ascii_digit())) {
            i += 1;
            continue;
        }
        if WRAPPERS.contains(&base.as_str()) {
            after_wrapper = true;
            i += 1;
            continue;
        }
        return Some(i);
    }
    None
}

/// The command a placeholder's value would run as code in, if any: `eval`,
/// `source`, `.`, `trap`, `alias` as the command, or a shell given `-c`
/// anywhere in the words (`sudo bash -c`, `xargs sh -c`, `find -exec sh -c`).
pub fn code_command(words: &[&str]) -> Option<String> {
    if let Some(ci) = command_index(words) {
        let cmd = unquote(words[ci]);
        if EVAL_LIKE.contains(&cmd.as_str()) {
            return Some(format!("`{cmd}`"));
        }
    }
    for (i, w) in words.iter().enumerate() {
        let base = basename(w);
        if !SHELLS.contains(&base.as_str()) {
            continue;
        }
        let dash_c = words[i + 1..].iter().any(|a| {
            let a = unquote(a);
            a.starts_with('-')
                && !a.starts_with("--")
                && a.len() > 1
                && a[1..].bytes().all(|b| b.is_ascii_alphabetic())
                && a.contains('c')
        });
        if dash_c {
            return Some(format!("`{base} -c`"));
        }
    }
    None
}

/// Whether the command reads its standard input as code: a shell with no
/// script argument (`| bash`, `bash -s`), or `source /dev/stdin`.
pub fn reads_stdin_as_code(words: &[&str]) -> Option<String> {
    let ci = command_index(words)?;
    let cmd = basename(words[ci]);
    let mut args: Vec<String> = Vec::new();
    let mut skip_target = false;
    for w in &words[ci + 1..] {
        let w = unquote(w);
        if std::mem::take(&mut skip_target) {
            continue;
        }
        // Redirections are not arguments: `bash <<EOF`, `bash < file`.
        let op = w.trim_start_matches(|c: char| c.is_ascii_digit());
        if op.starts_with(['<', '>']) {
            skip_target = op.trim_start_matches(['<', '>', '&', '-']).is_empty();
            continue;
        }
        args.push(w);
    }
    if SHELLS.contains(&cmd.as_str()) && args.iter().all(|a| a.starts_with('-') || a.is_empty()) {
        return Some(format!("`{cmd}`"));
    }
    if (cmd == "source" || cmd == ".")
        && args
            .first()
            .is_some_and(|a| a == "/dev/stdin" || a == "-" || a.starts_with("/proc/self/fd"))
    {
        return Some(format!("`{cmd}`"));
    }
    None
}

/// Records `declare -i/-n/-A` (and `local`, `typeset`) names of one command.
pub fn collect_declared(words: &[&str], declared: &mut Declared) {
    let Some(ci) = command_index(words) else {
        return;
    };
    let cmd = unquote(words[ci]);
    if !matches!(cmd.as_str(), "declare" | "typeset" | "local") {
        return;
    }
    let mut flags = String::new();
    for w in &words[ci + 1..] {
        let w = unquote(w);
        if let Some(f) = w.strip_prefix('-') {
            flags.push_str(f);
            continue;
        }
        let name = w.split(['=', '[', '+']).next().unwrap_or("").to_string();
        if !crate::config::is_var_name(&name) {
            continue;
        }
        if flags.contains('i') {
            declared.integers.insert(name.clone());
        }
        if flags.contains('n') {
            declared.namerefs.insert(name.clone());
        }
        if flags.contains('A') {
            declared.assoc.insert(name);
        }
    }
}

/// What the placeholder at byte `at` of word `w` is, in the command `words`.
pub fn classify(words: &[&str], w: usize, at: usize, declared: &Declared) -> Option<Role> {
    let word = words[w];
    let ci = command_index(words);
    if ci.is_none_or(|ci| w < ci) {
        return in_assignment(word, at, declared, None);
    }
    let ci = ci?;
    let cmd = unquote(words[ci]);
    let prev = w
        .checked_sub(1)
        .map(|p| unquote(words[p]))
        .unwrap_or_default();
    let next = words.get(w + 1).map(|n| unquote(n)).unwrap_or_default();
    // After `&&` inside `[[ ]]` the command starts mid-condition; `]]` still shows it.
    let in_cond = words
        .iter()
        .any(|x| matches!(unquote(x).as_str(), "[[" | "]]"));
    if in_cond
        && let Some(op) = [&prev, &next]
            .into_iter()
            .find(|o| ARITH_OPS.contains(&o.as_str()))
    {
        return Some(Role::Needs(
            Need::Integer,
            format!("an operand of `{op}` in `[[ ]]`, which bash evaluates as arithmetic"),
        ));
    }
    if (in_cond || cmd == "[" || cmd == "test") && prev == "-v" {
        return Some(Role::Needs(
            Need::Name,
            "the operand of `-v`, which bash reads as a variable name".into(),
        ));
    }
    if w == ci {
        return None;
    }
    let args = &words[ci + 1..];
    let arg_index = w - ci - 1;
    match cmd.as_str() {
        "let" => Some(Role::Needs(
            Need::Integer,
            "an argument of `let`, which bash evaluates as arithmetic".into(),
        )),
        "printf" if prev == "-v" => Some(Role::Needs(
            Need::Name,
            "the variable name of `printf -v`".into(),
        )),
        "wait" if prev == "-p" => Some(Role::Needs(
            Need::Name,
            "the variable name of `wait -p`".into(),
        )),
        "read" => name_operand(args, arg_index, "adeinNptu", "a", "read"),
        "mapfile" | "readarray" => name_operand(args, arg_index, "dnOsuCc", "", &cmd),
        "unset" => (!unquote(word).starts_with('-'))
            .then(|| Role::Needs(Need::Name, "a variable name given to `unset`".into())),
        "getopts" if arg_index == 1 => Some(Role::Needs(
            Need::Name,
            "the variable name of `getopts`".into(),
        )),
        "declare" | "typeset" | "local" | "export" | "readonly" => {
            if unquote(word).starts_with(['-', '+']) {
                return None;
            }
            let flags: String = args[..arg_index]
                .iter()
                .map(|a| unquote(a))
                .filter(|a| a.starts_with('-'))
                .collect();
            match assignment(word) {
                Some(_) => in_assignment(word, at, declared, Some((&cmd, &flags))),
                None if word[..at].contains('[') && !word[..at].contains(']') => {
                    Some(subscript_role())
                }
                None => Some(Role::Needs(
                    Need::Name,
                    format!("a variable name given to `{cmd}`"),
                )),
            }
        }
        _ => None,
    }
}

fn subscript_role() -> Role {
    Role::Needs(
        Need::Integer,
        "an array subscript, which bash evaluates as arithmetic".into(),
    )
}

/// A placeholder in `NAME=…`, `NAME[…]=…` (as a word of its own or after `declare FLAGS`).
fn in_assignment(
    word: &str,
    at: usize,
    declared: &Declared,
    declare: Option<(&str, &str)>,
) -> Option<Role> {
    let Some((name, eq)) = assignment(word) else {
        // `{{X}}=v` as the name itself: bash would not take it as an assignment.
        return None;
    };
    if at < eq {
        if at <= name.len() {
            return declare.map(|(cmd, _)| {
                Role::Needs(Need::Name, format!("a variable name given to `{cmd}`"))
            });
        }
        if declared.assoc.contains(name) || declare.is_some_and(|(_, f)| f.contains('A')) {
            return None;
        }
        return Some(subscript_role());
    }
    let flags = declare.map_or("", |(_, f)| f);
    if flags.contains('i') || declared.integers.contains(name) {
        return Some(Role::Needs(
            Need::Integer,
            format!(
                "a value assigned to `{name}`, declared with `-i`: bash evaluates it as arithmetic"
            ),
        ));
    }
    if flags.contains('n') || declared.namerefs.contains(name) {
        return Some(Role::Needs(
            Need::Name,
            format!(
                "a value assigned to the nameref `{name}`, which bash reads as a variable name"
            ),
        ));
    }
    None
}

/// For `read` and `mapfile`: operands (not options, not option arguments,
/// not redirections) are variable names; so is the argument of an option in `name_opts`.
fn name_operand(
    args: &[&str],
    index: usize,
    opts_with_arg: &str,
    name_opts: &str,
    cmd: &str,
) -> Option<Role> {
    let role = Role::Needs(Need::Name, format!("a variable name given to `{cmd}`"));
    let mut i = 0;
    while i < args.len() {
        let a = unquote(args[i]);
        if a.starts_with(['<', '>'])
            || a.bytes().next().is_some_and(|b| b.is_ascii_digit()) && a.contains(['<', '>'])
        {
            // A redirection: its target is a file, and `<` alone takes the next word.
            if i == index {
                return None;
            }
            i += if a.len() <= 2 { 2 } else { 1 };
            continue;
        }
        if let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty()) {
            let takes = flags.chars().last().filter(|c| opts_with_arg.contains(*c));
            if i == index {
                return None;
            }
            if let Some(opt) = takes {
                if i + 1 == index {
                    return name_opts.contains(opt).then_some(role);
                }
                i += 2;
                continue;
            }
            i += 1;
            continue;
        }
        if i == index {
            return Some(role);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(cmd: &str) -> Option<Role> {
        let at_ph = cmd.find("{{").expect("a placeholder");
        let ranges = split_words(cmd);
        let words: Vec<&str> = ranges.iter().map(|(s, e)| &cmd[*s..*e]).collect();
        let w = ranges
            .iter()
            .position(|(s, e)| *s <= at_ph && at_ph < *e)
            .expect("in a word");
        let mut declared = Declared::default();
        collect_declared(&words, &mut declared);
        if let Some(c) = code_command(&words) {
            return Some(Role::Code(c));
        }
        classify(&words, w, at_ph - ranges[w].0, &declared)
    }

    fn need(cmd: &str) -> Option<Need> {
        match role(cmd) {
            Some(Role::Needs(n, _)) => Some(n),
            _ => None,
        }
    }

    #[test]
    fn splits_words_keeping_quotes_and_substitutions() {
        let t = r#"echo "a b" 'c d' $(x y) ${v:-z w} `q r` e\ f"#;
        let words: Vec<&str> = split_words(t).iter().map(|(s, e)| &t[*s..*e]).collect();
        assert_eq!(
            words,
            [
                "echo",
                "\"a b\"",
                "'c d'",
                "$(x y)",
                "${v:-z w}",
                "`q r`",
                "e\\ f"
            ]
        );
    }

    #[test]
    fn finds_each_context() {
        use Need::*;
        for (cmd, want) in [
            ("[[ \"{{N}}\" -gt 0 ]]", Some(Integer)),
            ("[[ 0 -le {{N}} ]]", Some(Integer)),
            ("[[ \"{{N}}\" == 0 ]]", None),
            ("[ \"{{N}}\" -gt 0 ]", None),
            ("[ -v \"{{N}}\" ]", Some(Name)),
            ("[[ -v {{N}} ]]", Some(Name)),
            ("let \"x={{N}}\"", Some(Integer)),
            ("arr[{{N}}]=1", Some(Integer)),
            ("arr[0]={{N}}", None),
            ("printf -v \"{{N}}\" %s x", Some(Name)),
            ("printf %s {{N}}", None),
            ("read -r {{N}}", Some(Name)),
            ("read -p {{N}} x", None),
            ("read -ra {{N}}", Some(Name)),
            ("mapfile -t {{N}}", Some(Name)),
            ("readarray -n {{N}} x", None),
            ("declare {{N}}=1", Some(Name)),
            ("local x={{N}}", None),
            ("declare -i n={{N}}", Some(Integer)),
            ("declare -n r={{N}}", Some(Name)),
            ("export {{N}}", Some(Name)),
            ("unset {{N}}", Some(Name)),
            ("getopts ab {{N}}", Some(Name)),
            ("wait -p {{N}}", Some(Name)),
            ("echo {{N}}", None),
            ("if [[ {{N}} -eq 1 ]]; then", Some(Integer)),
        ] {
            assert_eq!(need(cmd), want, "{cmd}");
        }
    }

    #[test]
    fn code_contexts() {
        for cmd in [
            "eval \"echo {{X}}\"",
            "bash -c \"echo {{X}}\"",
            "sh -ec 'echo {{X}}'",
            "sudo -u root /bin/bash -c \"{{X}}\"",
            "source {{X}}",
            ". \"{{X}}\"",
            "trap \"echo {{X}}\" EXIT",
            "xargs -I{} sh -c 'echo {} {{X}}'",
            "command eval {{X}}",
        ] {
            assert!(matches!(role(cmd), Some(Role::Code(_))), "{cmd}");
        }
        for cmd in ["echo . {{X}}", "grep -c {{X}} file", "ls {{X}} ."] {
            assert_eq!(role(cmd), None, "{cmd}");
        }
    }

    #[test]
    fn declared_integers_make_later_assignments_arithmetic() {
        let mut d = Declared::default();
        collect_declared(&["declare", "-i", "n", "m=2"], &mut d);
        collect_declared(&["local", "-A", "map"], &mut d);
        assert!(d.integers.contains("n") && d.integers.contains("m"));
        let words = ["n={{X}}"];
        assert!(matches!(
            classify(&words, 0, 2, &d),
            Some(Role::Needs(Need::Integer, _))
        ));
        let words = ["map[{{X}}]=1"];
        assert_eq!(classify(&words, 0, 4, &d), None);
    }

    #[test]
    fn values_are_checked_strictly() {
        assert!(Need::Integer.accepts("-12"));
        assert!(!Need::Integer.accepts("1+1"));
        assert!(!Need::Integer.accepts("X"));
        assert!(!Need::Integer.accepts(""));
        assert!(!Need::Integer.accepts("-"));
        assert!(Need::Name.accepts("HOME_2"));
        assert!(!Need::Name.accepts("a[$(id)]"));
    }
}
