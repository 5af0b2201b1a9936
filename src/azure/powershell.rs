//! PowerShell for run-command: placeholders rendered by reference, syntax
//! checked with tree-sitter before anything reaches a VM, and the wrapper
//! that makes a script's result visible through run-command.
//!
//! Values never enter the user's script. The wrapper sets each one as an
//! environment variable from a single-quoted literal (the only PowerShell
//! literal without escapes: every quote character doubled), and each
//! `{{NAME}}` becomes `${env:NAME}`, which PowerShell expands without
//! parsing the value again. A placeholder inside a single-quoted string,
//! where PowerShell would not expand it, is an error.

use crate::template::Placeholder;

/// A problem found in a PowerShell script, at a byte offset of the original text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub start: usize,
    pub message: String,
    pub help: String,
}

/// Characters PowerShell accepts as single quotes: `'` and the typographic ones.
const SINGLE_QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

/// `value` as a PowerShell single-quoted literal.
pub fn literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if SINGLE_QUOTES.contains(&c) {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Checks syntax and placeholder contexts; returns the script with `${env:NAME}` references.
pub fn render(text: &str, placeholders: &[Placeholder]) -> Result<String, Vec<Problem>> {
    // Parse a copy where each placeholder is a variable of the same length, so
    // byte offsets in the tree are offsets in the user's text.
    let mut probe = text.to_string();
    for ph in placeholders {
        let len = ph.end - ph.start;
        let mut var = format!("${}", ph.name);
        while var.len() < len {
            var.push('_');
        }
        probe.replace_range(ph.start..ph.end, &var);
    }
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_powershell::LANGUAGE.into())
        .expect("the bundled PowerShell grammar loads");
    let Some(tree) = parser.parse(&probe, None) else {
        return Err(vec![Problem {
            start: 0,
            message: "PowerShell script could not be parsed".into(),
            help: "check the script for syntax errors".into(),
        }]);
    };
    let mut problems = syntax_errors(tree.root_node());
    for ph in placeholders {
        let node = tree
            .root_node()
            .descendant_for_byte_range(ph.start, ph.start + 1);
        let verbatim = std::iter::successors(node, |n| n.parent()).any(|n| {
            matches!(
                n.kind(),
                "verbatim_string_characters" | "verbatim_here_string_characters"
            )
        });
        if verbatim {
            problems.push(Problem {
                start: ph.start,
                message: format!("`{{{{{}}}}}` inside a single-quoted PowerShell string is never expanded", ph.name),
                help: format!("use a double-quoted string (\"…${{env:{0}}}…\" is what goldsmith writes) or put `{{{{{0}}}}}` outside the quotes", ph.name),
            });
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(env_references(text, placeholders))
}

/// `text` with each `{{NAME}}` replaced by `${env:NAME}`.
pub fn env_references(text: &str, placeholders: &[Placeholder]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for ph in placeholders {
        out.push_str(&text[last..ph.start]);
        out.push_str(&format!("${{env:{}}}", ph.name));
        last = ph.end;
    }
    out.push_str(&text[last..]);
    out
}

fn syntax_errors(root: tree_sitter::Node<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if !root.has_error() {
        return problems;
    }
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if node.is_missing() {
            problems.push(Problem {
                start: node.start_byte(),
                message: format!("PowerShell syntax error: missing `{}`", node.kind()),
                help: "fix the script; goldsmith checks it before sending it to a VM".into(),
            });
            continue;
        }
        if node.is_error() {
            problems.push(Problem {
                start: node.start_byte(),
                message: "PowerShell syntax error".into(),
                help: "fix the script; goldsmith checks it before sending it to a VM".into(),
            });
            continue;
        }
        if node.has_error() {
            let mut cursor = node.walk();
            let children: Vec<_> = node.children(&mut cursor).collect();
            stack.extend(children.into_iter().rev());
        }
    }
    problems.sort_by_key(|p| p.start);
    problems.truncate(5);
    problems
}

/// The wrapper: sets the values, runs the user's script from a file in the
/// VM (so its `exit N` ends only that script), reports errors on stderr, and
/// prints `##goldsmith-exit:<code>` as the very last stdout line, where it
/// survives run-command's 4,096-byte output tail.
pub fn wrap(op_id: &str, script: &str, values: &[(String, String)]) -> Result<String, String> {
    wrap_with_parameters(op_id, script, values, &[])
}

/// [`wrap`] for a managed run-command: the values named in `parameters`
/// arrive as the script's parameters (Azure passes a managed run-command's
/// `parameters` and `protectedParameters` to a PowerShell script as named
/// arguments), so secrets never appear in the script text; each is then set
/// as `$env:<name>` like any other value.
pub fn wrap_with_parameters(
    op_id: &str,
    script: &str,
    values: &[(String, String)],
    parameters: &[&str],
) -> Result<String, String> {
    if script.lines().any(|l| l.starts_with("'@")) {
        return Err(
            "a line of the script starts with `'@`, which would end goldsmith's here-string".into(),
        );
    }
    let mut out = String::new();
    out.push_str("# goldsmith run-command wrapper\n");
    if !parameters.is_empty() {
        let declared: Vec<String> = parameters.iter().map(|p| format!("[string]${p}")).collect();
        out.push_str(&format!("param({})\n", declared.join(", ")));
    }
    out.push_str("$ErrorActionPreference = 'Stop'\n$ProgressPreference = 'SilentlyContinue'\n");
    // The script runs from a file in the VM; the machine's policy must not block it.
    out.push_str("Set-ExecutionPolicy -Scope Process -ExecutionPolicy Bypass -Force\n");
    for (name, value) in values {
        out.push_str(&format!("${{env:{name}}} = {}\n", literal(value)));
    }
    for name in parameters {
        out.push_str(&format!("${{env:{name}}} = ${name}\n"));
    }
    out.push_str(&format!(
        "$goldsmithScript = Join-Path $env:TEMP ('goldsmith-' + {} + '-' + [guid]::NewGuid().ToString('N') + '.ps1')\n",
        literal(op_id)
    ));
    out.push_str(
        "$goldsmithExit = 0\n\
         try {\n\
         Set-Content -LiteralPath $goldsmithScript -Encoding UTF8 -Value @'\n",
    );
    out.push_str(script);
    if !script.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(
        "'@\n\
         $global:LASTEXITCODE = 0\n\
         & $goldsmithScript\n\
         if ($LASTEXITCODE) { $goldsmithExit = $LASTEXITCODE }\n\
         } catch {\n\
         [Console]::Error.WriteLine(($_ | Out-String).TrimEnd())\n\
         $goldsmithExit = 1\n\
         } finally {\n\
         Remove-Item -LiteralPath $goldsmithScript -Force -ErrorAction SilentlyContinue\n\
         }\n\
         Write-Output \"##goldsmith-exit:$goldsmithExit\"\n\
         exit $goldsmithExit\n",
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::scan;

    fn render_text(text: &str) -> Result<String, Vec<Problem>> {
        let (phs, _) = scan(text);
        render(text, &phs)
    }

    #[test]
    fn literals_double_every_kind_of_single_quote() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("a\u{2019}b"), "'a\u{2019}\u{2019}b'");
        assert_eq!(literal("$(x) `n \"q\""), "'$(x) `n \"q\"'");
    }

    #[test]
    fn placeholders_become_environment_references() {
        let out = render_text(
            "Write-Output \"Hello {{NAME}}\"\nNew-Item -Path C:\\{{DIR}}\\x\n# {{NAME}}\n",
        )
        .expect("renders");
        assert_eq!(
            out,
            "Write-Output \"Hello ${env:NAME}\"\nNew-Item -Path C:\\${env:DIR}\\x\n# ${env:NAME}\n"
        );
    }

    #[test]
    fn single_quoted_placeholders_and_syntax_errors_are_problems() {
        let p = render_text("Write-Output 'Hello {{NAME}}'\n").expect_err("single quotes");
        assert_eq!(p[0].start, 20);
        let p = render_text("$h = @'\n{{NAME}}\n'@\n").expect_err("verbatim here-string");
        assert_eq!(p.len(), 1);
        let p = render_text("if ($a -eq 1 {\n  Write-Host x\n}\n").expect_err("syntax");
        assert!(p[0].message.starts_with("PowerShell syntax error"));
    }

    #[test]
    fn the_wrapper_parses_and_ends_with_the_marker() {
        let wrapped = wrap(
            "op",
            "Write-Output hi\nexit 3\n",
            &[("A".into(), "x'; rm -r C:\\ #".into())],
        )
        .expect("wraps");
        assert!(wrapped.contains("${env:A} = 'x''; rm -r C:\\ #'\n"));
        assert!(wrapped.trim_end().ends_with("exit $goldsmithExit"));
        assert!(
            render(&wrapped, &[]).is_ok(),
            "the wrapper itself is valid PowerShell"
        );
        assert!(wrap("op", "'@\n", &[]).is_err());
    }
}
