//! Rendering placeholders into bash by reference, never by value.
//!
//! The script is lexed just enough to know the quoting context of each
//! placeholder: unquoted words get `"${NAME}"`, double quotes and unquoted
//! here-documents get `${NAME}`, single quotes are closed and reopened around
//! `"${NAME}"`. Contexts where bash would re-evaluate the value (arithmetic)
//! or never expand it (quoted here-documents) are errors.

use super::Placeholder;
use super::bash_context::{self, Declared, Need, Role};

/// A placeholder that cannot be rendered safely where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsafe {
    pub start: usize,
    pub message: String,
    pub help: String,
}

/// A placeholder whose value bash reads as a number or a name: safe only
/// when the value is one, which the plan checks before anything runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Use {
    pub start: usize,
    pub name: String,
    pub need: Need,
    /// Where it stands, for the message: "an operand of `-gt` in `[[ ]]`, …".
    pub context: String,
}

/// A rendered script and the placeholders whose values must be checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub uses: Vec<Use>,
}

/// One open construct of the lexer.
#[derive(Clone, Copy, Debug)]
struct Frame {
    ctx: Ctx,
    close: char,
    /// Byte offset of the text that opened it (`${`, `$(`, …).
    open: usize,
    /// Where the current simple command of this frame starts (command frames).
    cmd_start: usize,
}

impl Frame {
    fn new(ctx: Ctx, close: char, open: usize, cmd_start: usize) -> Frame {
        Frame {
            ctx,
            close,
            open,
            cmd_start,
        }
    }
}

/// One simple command's text, and whether a `|` pipes it into the next.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
    piped: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    /// Command text: top level, `$( … )`, backticks.
    Command,
    Double,
    /// `${ … }` parameter expansion; the bool says whether it sits inside double quotes.
    Param(bool),
    Arith,
}

pub fn render(text: &str, placeholders: &[Placeholder]) -> Result<Rendered, Vec<Unsafe>> {
    let mut lexer = Lexer::new(text, placeholders);
    while lexer.i < text.len() {
        lexer.step();
    }
    lexer.finish()
}

/// The state `render` threads through the script: where it is, what is open,
/// what it wrote, and what it learns for the analysis after it.
struct Lexer<'t> {
    text: &'t str,
    placeholders: &'t [Placeholder],
    /// Byte offset of the next character to read.
    i: usize,
    /// The next placeholder not yet rendered (or rejected).
    next_ph: usize,
    out: String,
    errors: Vec<Unsafe>,
    stack: Vec<Frame>,
    /// Here-documents opened on the current line: delimiter, quoted, strip tabs.
    pending_heredocs: Vec<(String, bool, bool)>,
    /// Where the current line starts.
    line_start: usize,
    spans: Vec<Span>,
    frame_needs: Vec<(usize, Need, String)>,
    inert: Vec<usize>,
    /// Placeholders in here-document bodies, with the line of the command that reads the body.
    heredoc_bodies: Vec<(usize, usize, std::ops::Range<usize>)>,
}

impl<'t> Lexer<'t> {
    fn new(text: &'t str, placeholders: &'t [Placeholder]) -> Self {
        Lexer {
            text,
            placeholders,
            i: 0,
            next_ph: 0,
            out: String::with_capacity(text.len() + placeholders.len() * 4),
            errors: Vec::new(),
            stack: vec![Frame::new(Ctx::Command, '\0', 0, 0)],
            pending_heredocs: Vec::new(),
            line_start: 0,
            spans: Vec::new(),
            frame_needs: Vec::new(),
            inert: Vec::new(),
            heredoc_bodies: Vec::new(),
        }
    }

    /// Reads one placeholder, one construct, or one ordinary character.
    fn step(&mut self) {
        let ctx = self.stack.last().map_or(Ctx::Command, |f| f.ctx);
        self.reject_passed_placeholders();
        if self.placeholder(ctx) {
            return;
        }
        let construct = match ctx {
            Ctx::Command | Ctx::Param(false) | Ctx::Arith => self.unquoted(ctx),
            Ctx::Double | Ctx::Param(true) => self.double_quoted(ctx),
        };
        if !construct {
            let n = next_char_len(self.text, self.i);
            self.copy(n);
        }
    }

    /// A placeholder a construct has already copied past (after a backslash,
    /// in a here-document delimiter) would reach bash as literal text.
    fn reject_passed_placeholders(&mut self) {
        while let Some(ph) = self
            .placeholders
            .get(self.next_ph)
            .filter(|p| p.start < self.i)
        {
            self.errors.push(Unsafe {
                start: ph.start,
                message: format!("`{{{{{}}}}}` cannot be rendered where it stands (escaped, or part of a here-document delimiter)", ph.name),
                help: "move the placeholder out of that construct, e.g. into a variable assigned on the line before".into(),
            });
            self.next_ph += 1;
        }
    }

    /// Renders the placeholder that starts here, if one does, as the context needs it.
    fn placeholder(&mut self, ctx: Ctx) -> bool {
        let placeholders = self.placeholders;
        let Some(ph) = placeholders.get(self.next_ph).filter(|p| p.start == self.i) else {
            return false;
        };
        let need = frame_need(self.text, &self.stack, ph.start);
        let bare_name = need
            .as_ref()
            .is_some_and(|(_, why)| why.starts_with("the name of `${!"));
        let out = &mut self.out;
        match ctx {
            Ctx::Command => out.push_str(&format!("\"${{{}}}\"", ph.name)),
            Ctx::Param(_) if bare_name => out.push_str(&ph.name),
            Ctx::Double | Ctx::Param(true) => out.push_str(&format!("${{{}}}", ph.name)),
            Ctx::Param(false) => out.push_str(&format!("\"${{{}}}\"", ph.name)),
            // Parenthesised, so that a negative value stays one operand (`1-(-5)`).
            Ctx::Arith => out.push_str(&format!("(${{{}}})", ph.name)),
        }
        if let Some((need, why)) = need {
            self.frame_needs.push((self.next_ph, need, why));
        }
        self.i = ph.end;
        self.next_ph += 1;
        true
    }

    /// A construct of command text, of `${ … }` outside double quotes, or of
    /// arithmetic; false when the character here is an ordinary one.
    fn unquoted(&mut self, ctx: Ctx) -> bool {
        let (text, i) = (self.text, self.i);
        let c = text.as_bytes()[i] as char;
        let rest = &text[i..];
        let command = ctx == Ctx::Command;
        if c == '\\' {
            self.escaped();
        } else if c == '\'' || rest.starts_with("$'") {
            self.single_quoted(c == '$');
        } else if c == '"' {
            self.stack.push(Frame::new(Ctx::Double, '"', i, i));
            self.copy(1);
        } else if command && c == '#' && word_start(text.as_bytes(), i) {
            self.comment();
        } else if rest.starts_with("<<<") {
            // A here-string: its word is an ordinary word, not a here-document delimiter.
            self.copy(3);
        } else if command && rest.starts_with("<<") {
            self.heredoc_operator();
        } else if command && c == '\n' && !self.pending_heredocs.is_empty() {
            self.heredoc_bodies();
        } else if rest.starts_with("$((") || (command && rest.starts_with("((")) {
            self.open(Ctx::Arith, ')', if c == '$' { 3 } else { 2 });
        } else if rest.starts_with("$[") {
            // The old form of `$(( ))`.
            self.open(Ctx::Arith, ']', 2);
        } else if rest.starts_with("$(")
            || (command && (rest.starts_with("<(") || rest.starts_with(">(")))
        {
            // Command and process substitutions hold commands of their own.
            self.open(Ctx::Command, ')', 2);
        } else if rest.starts_with("${") {
            self.open(Ctx::Param(false), '}', 2);
        } else if c == '`' {
            self.backtick();
        } else if c == '(' && self.stack.len() > 1 {
            // Nested parentheses (subshells, `case` patterns) inside `$( … )`.
            if command {
                self.end_command(false);
            }
            self.open(ctx, ')', 1);
        } else if self.stack.len() > 1 && self.stack.last().is_some_and(|f| f.close == c) {
            self.close(ctx, c);
        } else {
            if command && matches!(c, ';' | '&' | '|' | '\n' | '(' | ')') {
                self.separator(c);
            }
            return false;
        }
        true
    }

    /// A construct inside double quotes or a `${ … }` within them; false when
    /// the character here is an ordinary one.
    fn double_quoted(&mut self, ctx: Ctx) -> bool {
        let c = self.text.as_bytes()[self.i] as char;
        let rest = &self.text[self.i..];
        if c == '\\' {
            self.escaped();
        } else if ctx == Ctx::Double && c == '"' {
            self.stack.pop();
            self.copy(1);
        } else if rest.starts_with("$((") {
            self.open(Ctx::Arith, ')', 3);
        } else if rest.starts_with("$[") {
            self.open(Ctx::Arith, ']', 2);
        } else if rest.starts_with("$(") {
            self.open(Ctx::Command, ')', 2);
        } else if rest.starts_with("${") {
            self.open(Ctx::Param(true), '}', 2);
        } else if c == '`' {
            self.open(Ctx::Command, '`', 1);
        } else if matches!(ctx, Ctx::Param(true)) && c == '}' {
            self.stack.pop();
            self.copy(1);
        } else {
            return false;
        }
        true
    }

    /// Copies the next `len` bytes as they are.
    fn copy(&mut self, len: usize) {
        self.out.push_str(&self.text[self.i..self.i + len]);
        self.i += len;
    }

    /// Opens a construct whose opening text is the next `len` bytes.
    fn open(&mut self, ctx: Ctx, close: char, len: usize) {
        self.stack
            .push(Frame::new(ctx, close, self.i, self.i + len));
        self.copy(len);
    }

    /// Closes the current simple command of the top frame here.
    fn end_command(&mut self, piped: bool) {
        end_command(&mut self.stack, &mut self.spans, self.i, piped);
    }

    /// A backslash and the character it escapes.
    fn escaped(&mut self) {
        let n = next_char_len(self.text, self.i + 1);
        self.copy(1 + n);
    }

    /// `'…'` or `$'…'`: copied, with each placeholder closing and reopening the quotes.
    fn single_quoted(&mut self, dollar: bool) {
        self.copy(if dollar { 2 } else { 1 });
        self.i = copy_single_quoted(
            self.text,
            self.i,
            dollar,
            self.placeholders,
            &mut self.next_ph,
            &mut self.out,
        );
    }

    /// A comment, to the end of its line.
    fn comment(&mut self) {
        let end = self.text[self.i..]
            .find('\n')
            .map_or(self.text.len(), |e| self.i + e);
        self.end_command(false);
        // Placeholders in comments are inert; show them as references.
        let first = self.next_ph;
        self.i = copy_inert(
            self.text,
            self.i,
            end,
            self.placeholders,
            &mut self.next_ph,
            &mut self.out,
        );
        self.inert.extend(first..self.next_ph);
        if let Some(f) = self.stack.last_mut() {
            f.cmd_start = self.i;
        }
    }

    /// `<<` or `<<-` and its delimiter word; the body follows the line.
    fn heredoc_operator(&mut self) {
        let (consumed, heredoc) = read_heredoc_operator(&self.text[self.i..]);
        self.copy(consumed);
        if let Some(h) = heredoc {
            self.pending_heredocs.push(h);
        }
    }

    /// The end of a line that opened here-documents, and their bodies.
    fn heredoc_bodies(&mut self) {
        self.end_command(false);
        let reader_line = (self.line_start, self.i);
        self.copy(1);
        let first = self.next_ph;
        for (delim, quoted, strip_tabs) in std::mem::take(&mut self.pending_heredocs) {
            self.i = copy_heredoc_body(
                self.text,
                self.i,
                &delim,
                quoted,
                strip_tabs,
                self.placeholders,
                &mut self.next_ph,
                &mut self.out,
                &mut self.errors,
            );
        }
        self.heredoc_bodies
            .push((reader_line.0, reader_line.1, first..self.next_ph));
        self.line_start = self.i;
        if let Some(f) = self.stack.last_mut() {
            f.cmd_start = self.i;
        }
    }

    /// A backtick outside double quotes: closes the backticks open, or opens new ones.
    fn backtick(&mut self) {
        if self.stack.last().is_some_and(|f| f.close == '`') {
            self.end_command(false);
            self.stack.pop();
            self.copy(1);
        } else {
            self.open(Ctx::Command, '`', 1);
        }
    }

    /// `c` closes the top frame.
    fn close(&mut self, ctx: Ctx, c: char) {
        if ctx == Ctx::Command {
            self.end_command(false);
        }
        self.stack.pop();
        if ctx == Ctx::Arith && c == ')' && self.text[self.i + 1..].starts_with(')') {
            self.copy(2);
        } else {
            self.copy(1);
        }
    }

    /// `;`, `&`, `|`, a newline or a parenthesis ends a simple command; the
    /// character itself is then copied as an ordinary one.
    fn separator(&mut self, c: char) {
        let (text, i) = (self.text, self.i);
        // `|` alone pipes into the next command; `||` and `|&`… do not count.
        let piped = c == '|' && !text[i + 1..].starts_with('|') && !text[..i].ends_with('|');
        self.end_command(piped);
        if c == '\n' {
            self.line_start = i + 1;
        }
    }

    /// Closes what is still open, rejects the placeholders never reached, and
    /// analyses the commands around the rendered ones.
    fn finish(mut self) -> Result<Rendered, Vec<Unsafe>> {
        let len = self.text.len();
        while !self.stack.is_empty() {
            end_command(&mut self.stack, &mut self.spans, len, false);
            self.stack.pop();
        }
        for ph in &self.placeholders[self.next_ph.min(self.placeholders.len())..] {
            self.errors.push(Unsafe {
                start: ph.start,
                message: format!("`{{{{{}}}}}` cannot be rendered where it stands", ph.name),
                help: "move the placeholder out of that construct".into(),
            });
        }
        let uses = analyse(
            self.text,
            self.placeholders,
            &self.spans,
            &self.frame_needs,
            &self.inert,
            &self.heredoc_bodies,
            &mut self.errors,
        );
        if self.errors.is_empty() {
            Ok(Rendered {
                text: self.out,
                uses,
            })
        } else {
            self.errors.sort_by_key(|e| e.start);
            Err(self.errors)
        }
    }
}

/// Closes the current simple command of the top frame (a command frame) at `end`.
fn end_command(stack: &mut [Frame], spans: &mut Vec<Span>, end: usize, piped: bool) {
    let Some(f) = stack.last_mut() else {
        return;
    };
    if f.ctx != Ctx::Command {
        return;
    }
    if f.cmd_start < end {
        spans.push(Span {
            start: f.cmd_start,
            end,
            piped,
        });
    }
    f.cmd_start = end + 1;
}

/// What the constructs around a placeholder make of it, before looking at its
/// command: everything inside `$(( ))` is arithmetic; inside `${ … }` the
/// subscript and the `:offset:length` are arithmetic and `${!…}` takes a name.
fn frame_need(text: &str, stack: &[Frame], at: usize) -> Option<(Need, String)> {
    for f in stack.iter().rev() {
        match f.ctx {
            Ctx::Command => return None,
            Ctx::Arith => {
                return Some((
                    Need::Integer,
                    "inside an arithmetic expression, which bash evaluates as code".into(),
                ));
            }
            Ctx::Param(_) if text[f.open..].starts_with("${") => {
                return param_need(&text[f.open + 2..at]);
            }
            // Parentheses inside `${ … }`: the enclosing `${` decides.
            Ctx::Param(_) | Ctx::Double => {}
        }
    }
    None
}

/// `head` is the text of a `${ … }` before the placeholder.
fn param_need(head: &str) -> Option<(Need, String)> {
    if head == "!" {
        return Some((
            Need::Name,
            "the name of `${!…}`, which bash reads as a variable name".into(),
        ));
    }
    let body = head.strip_prefix(['#', '!']).unwrap_or(head);
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    let name_len = if name_len == 0 && body.starts_with(['@', '*', '#', '?', '$', '!', '-']) {
        1
    } else {
        name_len
    };
    if name_len == 0 {
        return None;
    }
    let mut rest = &body[name_len..];
    if let Some(sub) = rest.strip_prefix('[') {
        match sub.find(']') {
            None => {
                return Some((
                    Need::Integer,
                    "an array subscript, which bash evaluates as arithmetic".into(),
                ));
            }
            Some(close) => rest = &sub[close + 1..],
        }
    }
    let offset = rest
        .strip_prefix(':')
        .is_some_and(|after| !after.starts_with(['-', '=', '?', '+']));
    offset.then(|| {
        (
            Need::Integer,
            "an offset or length of `${var:offset:length}`, which bash evaluates as arithmetic"
                .into(),
        )
    })
}

/// Whether the end of `before` (a here-document body up to a placeholder) is
/// inside an expansion bash evaluates there: more `$(`, `${`, `$[` or
/// backticks opened than closed. Conservative: it counts, it does not parse.
fn inside_expansion(before: &str) -> bool {
    let opened =
        before.matches("$(").count() + before.matches("${").count() + before.matches("$[").count();
    let closed =
        before.matches(')').count() + before.matches('}').count() + before.matches(']').count();
    opened > closed || before.matches('`').count() % 2 == 1
}

/// Classifies every rendered placeholder by the commands around it: value-as-code
/// contexts become errors, number and name contexts become `Use`s.
fn analyse(
    text: &str,
    placeholders: &[Placeholder],
    spans: &[Span],
    frame_needs: &[(usize, Need, String)],
    inert: &[usize],
    heredoc_bodies: &[(usize, usize, std::ops::Range<usize>)],
    errors: &mut Vec<Unsafe>,
) -> Vec<Use> {
    let words_of = |s: &Span| -> Vec<(usize, usize)> {
        bash_context::split_words(&text[s.start..s.end])
            .into_iter()
            .map(|(a, b)| (s.start + a, s.start + b))
            .collect()
    };
    let mut declared = Declared::default();
    let mut all_words = Vec::with_capacity(spans.len());
    for s in spans {
        let ranges = words_of(s);
        let words: Vec<&str> = ranges.iter().map(|(a, b)| &text[*a..*b]).collect();
        bash_context::collect_declared(&words, &mut declared);
        all_words.push(ranges);
    }
    let mut uses = Vec::new();
    let code_error = |ph: &Placeholder, cmd: &str| {
        Unsafe {
        start: ph.start,
        message: format!(
            "`{{{{{}}}}}` is passed to {cmd}, which runs its value as code",
            ph.name
        ),
        help: "pass the value as data instead: a plain argument of a script file, an environment variable the code reads (`${NAME}` inside single quotes), or stdin".into(),
    }
    };
    for (index, ph) in placeholders.iter().enumerate() {
        if inert.contains(&index) {
            continue;
        }
        if let Some((from, to, _)) = heredoc_bodies.iter().find(|(_, _, r)| r.contains(&index)) {
            let line = &text[*from..*to];
            let reader = line
                .split(['|', ';', '&'])
                .map(|part| {
                    let ranges = bash_context::split_words(part);
                    let words: Vec<&str> = ranges.iter().map(|(a, b)| &part[*a..*b]).collect();
                    bash_context::reads_stdin_as_code(&words)
                        .or_else(|| bash_context::code_command(&words))
                })
                .find_map(|c| c);
            if let Some(cmd) = reader {
                errors.push(code_error(ph, &format!("{cmd} through a here-document")));
            } else if inside_expansion(&text[*to..ph.start]) {
                errors.push(Unsafe {
                    start: ph.start,
                    message: format!(
                        "`{{{{{}}}}}` inside `$( )`, `$(( ))` or `${{ }}` of a here-document cannot be checked",
                        ph.name
                    ),
                    help: "compute the value in a variable on a line before the here-document and use that variable in it".into(),
                });
            }
            continue;
        }
        let containing: Vec<usize> = spans
            .iter()
            .enumerate()
            .filter(|(_, s)| s.start <= ph.start && ph.end <= s.end)
            .map(|(k, _)| k)
            .collect();
        let mut code = None;
        for &k in &containing {
            let words: Vec<&str> = all_words[k].iter().map(|(a, b)| &text[*a..*b]).collect();
            if let Some(cmd) = bash_context::code_command(&words) {
                code = Some(cmd);
                break;
            }
            // `echo "{{X}}" | bash`: a later command of the pipeline reads it as code.
            let mut j = k;
            while spans[j].piped && j + 1 < spans.len() {
                j += 1;
                let next: Vec<&str> = all_words[j].iter().map(|(a, b)| &text[*a..*b]).collect();
                if let Some(cmd) = bash_context::reads_stdin_as_code(&next) {
                    code = Some(format!("{cmd} through a pipe"));
                    break;
                }
            }
            if code.is_some() {
                break;
            }
        }
        if let Some(cmd) = code {
            errors.push(code_error(ph, &cmd));
            continue;
        }
        if let Some((_, need, why)) = frame_needs.iter().find(|(k, _, _)| *k == index) {
            uses.push(Use {
                start: ph.start,
                name: ph.name.clone(),
                need: *need,
                context: why.clone(),
            });
            continue;
        }
        // The innermost command: the shortest span holding the placeholder.
        let Some(&k) = containing
            .iter()
            .min_by_key(|&&k| spans[k].end - spans[k].start)
        else {
            continue;
        };
        let ranges = &all_words[k];
        let Some(w) = ranges
            .iter()
            .position(|(a, b)| *a <= ph.start && ph.start < *b)
        else {
            continue;
        };
        let words: Vec<&str> = ranges.iter().map(|(a, b)| &text[*a..*b]).collect();
        if let Some(Role::Needs(need, why)) =
            bash_context::classify(&words, w, ph.start - ranges[w].0, &declared)
        {
            uses.push(Use {
                start: ph.start,
                name: ph.name.clone(),
                need,
                context: why,
            });
        }
    }
    uses
}

fn next_char_len(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(0, char::len_utf8)
}

fn word_start(bytes: &[u8], i: usize) -> bool {
    i == 0
        || matches!(
            bytes[i - 1],
            b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'(' | b')'
        )
}

/// Copies a single-quoted string body and its closing quote; placeholders close
/// the quote, insert the reference, and reopen it.
fn copy_single_quoted(
    text: &str,
    mut i: usize,
    dollar: bool,
    placeholders: &[Placeholder],
    next_ph: &mut usize,
    out: &mut String,
) -> usize {
    let bytes = text.as_bytes();
    while i < text.len() {
        if let Some(ph) = placeholders.get(*next_ph).filter(|p| p.start == i) {
            let reopen = if dollar { "$'" } else { "'" };
            out.push_str(&format!("'\"${{{}}}\"{reopen}", ph.name));
            i = ph.end;
            *next_ph += 1;
            continue;
        }
        if dollar && bytes[i] == b'\\' {
            let n = next_char_len(text, i + 1);
            out.push_str(&text[i..i + 1 + n]);
            i += 1 + n;
            continue;
        }
        let n = next_char_len(text, i);
        out.push_str(&text[i..i + n]);
        i += n;
        if bytes[i - n] == b'\'' {
            break;
        }
    }
    i
}

/// Copies `text[i..end]` where nothing is evaluated, writing placeholders as references.
fn copy_inert(
    text: &str,
    mut i: usize,
    end: usize,
    placeholders: &[Placeholder],
    next_ph: &mut usize,
    out: &mut String,
) -> usize {
    while let Some(ph) = placeholders.get(*next_ph).filter(|p| p.start < end) {
        out.push_str(&text[i..ph.start]);
        out.push_str(&format!("${{{}}}", ph.name));
        i = ph.end;
        *next_ph += 1;
    }
    if i < end {
        out.push_str(&text[i..end]);
    }
    end.max(i)
}

/// Reads `<<DELIM`, `<<-DELIM`, `<<'DELIM'`, `<<"DELIM"`, `<<\DELIM`.
/// Returns how many bytes the operator and word take, and (delimiter, quoted, strip_tabs).
fn read_heredoc_operator(rest: &str) -> (usize, Option<(String, bool, bool)>) {
    let mut i = 2;
    let strip_tabs = rest[i..].starts_with('-');
    if strip_tabs {
        i += 1;
    }
    while rest[i..].starts_with([' ', '\t']) {
        i += 1;
    }
    let word_start = i;
    let mut delim = String::new();
    let mut quoted = false;
    let bytes = rest.as_bytes();
    while i < rest.len() {
        let c = bytes[i] as char;
        match c {
            '\'' | '"' => {
                quoted = true;
                let close = rest[i + 1..].find(c).map_or(rest.len(), |e| i + 1 + e);
                delim.push_str(&rest[i + 1..close.min(rest.len())]);
                i = (close + 1).min(rest.len());
            }
            '\\' => {
                quoted = true;
                i += 1;
            }
            c if c.is_whitespace() || matches!(c, ';' | '|' | '&' | '<' | '>' | '(' | ')') => break,
            _ => {
                delim.push(c);
                i += 1;
            }
        }
    }
    if i == word_start || delim.is_empty() {
        return (i, None);
    }
    (i, Some((delim, quoted, strip_tabs)))
}

#[allow(clippy::too_many_arguments)]
fn copy_heredoc_body(
    text: &str,
    mut i: usize,
    delim: &str,
    quoted: bool,
    strip_tabs: bool,
    placeholders: &[Placeholder],
    next_ph: &mut usize,
    out: &mut String,
    errors: &mut Vec<Unsafe>,
) -> usize {
    while i < text.len() {
        let line_end = text[i..].find('\n').map_or(text.len(), |e| i + e);
        let line = &text[i..line_end];
        let trimmed = if strip_tabs {
            line.trim_start_matches('\t')
        } else {
            line
        };
        let is_end = trimmed == delim;
        let mut j = i;
        while let Some(ph) = placeholders.get(*next_ph).filter(|p| p.start < line_end) {
            out.push_str(&text[j..ph.start]);
            if quoted {
                errors.push(Unsafe {
                    start: ph.start,
                    message: format!(
                        "`{{{{{}}}}}` inside a quoted here-document is never expanded by bash",
                        ph.name
                    ),
                    help: format!(
                        "write `<<{delim}` without quotes so bash expands `${{{}}}`",
                        ph.name
                    ),
                });
            }
            out.push_str(&format!("${{{}}}", ph.name));
            j = ph.end;
            *next_ph += 1;
        }
        out.push_str(&text[j..line_end]);
        if line_end < text.len() {
            out.push('\n');
        }
        i = (line_end + 1).min(text.len());
        if is_end {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::scan;

    fn r(text: &str) -> String {
        let (phs, bad) = scan(text);
        assert!(bad.is_empty());
        render(text, &phs).expect("renders").text
    }

    fn uses(text: &str) -> Vec<(String, Need)> {
        let (phs, _) = scan(text);
        render(text, &phs)
            .expect("renders")
            .uses
            .into_iter()
            .map(|u| (u.name, u.need))
            .collect()
    }

    #[test]
    fn parentheses_inside_a_parameter_expansion_take_its_context() {
        // Once a slice out of range: `(` inside `${` opens a one-byte frame.
        let (phs, _) = scan("echo ${a:(({{X}}");
        let _ = render("echo ${a:(({{X}}", &phs);
        assert_eq!(
            uses("echo \"${a:({{N}})}\""),
            [("N".to_string(), Need::Integer)]
        );
    }

    #[test]
    fn quoting_contexts() {
        assert_eq!(r("echo {{A}}"), r#"echo "${A}""#);
        assert_eq!(r(r#"echo "x {{A}} y""#), r#"echo "x ${A} y""#);
        assert_eq!(r("echo 'x {{A}} y'"), r#"echo 'x '"${A}"' y'"#);
        assert_eq!(r("echo $'x {{A}}'"), r#"echo $'x '"${A}"$''"#);
        assert_eq!(r("--name={{A}}"), r#"--name="${A}""#);
        assert_eq!(r("x=$(echo {{A}})"), r#"x=$(echo "${A}")"#);
        assert_eq!(r(r#"x="$(echo {{A}})""#), r#"x="$(echo "${A}")""#);
        assert_eq!(r("echo ${B:-{{A}}}"), r#"echo ${B:-"${A}"}"#);
        assert_eq!(r("# uses {{A}}\necho {{A}}"), "# uses ${A}\necho \"${A}\"");
        assert_eq!(
            r("cat <<EOF\n{{A}}\nEOF\necho {{A}}"),
            "cat <<EOF\n${A}\nEOF\necho \"${A}\""
        );
        assert_eq!(r("echo \\'{{A}}"), "echo \\'\"${A}\"");
        assert_eq!(
            r("cat <<< {{A}}\necho {{A}}"),
            "cat <<< \"${A}\"\necho \"${A}\""
        );
        assert_eq!(r("read x <<< \"v {{A}}\""), "read x <<< \"v ${A}\"");
    }

    #[test]
    fn unsafe_contexts_are_errors() {
        for text in [
            "echo \\{{A}} {{B}}",
            "cat <<{{A}}\nx\n",
            "cat <<'EOF'\n{{A}}\nEOF\n",
            "eval \"x={{A}}\"",
            "x=$(bash -c 'echo {{A}}')",
            "echo \"{{A}}\" | bash",
            "bash <<EOF\necho {{A}}\nEOF\n",
            "cat <<EOF | sh\necho {{A}}\nEOF\n",
            "f() { source \"{{A}}\"; }",
            "cat <<EOF\n$(( {{A}} ))\nEOF\n",
            "cat <<EOF\n${x:{{A}}}\nEOF\n",
        ] {
            let (phs, _) = scan(text);
            assert!(render(text, &phs).is_err(), "{text}");
        }
    }

    #[test]
    fn number_and_name_contexts_are_uses() {
        use Need::*;
        assert_eq!(r("echo $(( {{A}} + 1 ))"), "echo $(( (${A}) + 1 ))");
        assert_eq!(uses("echo $(( {{A}} + 1 ))"), [("A".into(), Integer)]);
        assert_eq!(uses("(( {{A}} > 2 ))"), [("A".into(), Integer)]);
        assert_eq!(uses("echo $[ {{A}} ]"), [("A".into(), Integer)]);
        assert_eq!(
            uses("if [[ \"{{A}}\" -gt 0 ]]; then :; fi"),
            [("A".into(), Integer)]
        );
        assert_eq!(uses("[[ -n x && {{A}} -lt 3 ]]"), [("A".into(), Integer)]);
        assert_eq!(uses("echo ${arr[{{A}}]}"), [("A".into(), Integer)]);
        assert_eq!(uses("echo \"${arr[\"{{A}}\"]}\""), [("A".into(), Integer)]);
        assert_eq!(uses("echo ${s:{{A}}}"), [("A".into(), Integer)]);
        assert_eq!(uses("echo ${s:1:{{A}}}"), [("A".into(), Integer)]);
        assert_eq!(uses("echo ${s:-{{A}}}"), []);
        assert_eq!(uses("echo ${s/{{A}}/x}"), []);
        assert_eq!(r("echo ${!{{A}}}"), "echo ${!A}");
        assert_eq!(uses("echo ${!{{A}}}"), [("A".into(), Name)]);
        assert_eq!(uses("declare -i n\nfoo\nn={{A}}"), [("A".into(), Integer)]);
        assert_eq!(uses("x=$(printf -v {{A}} %s 1)"), [("A".into(), Name)]);
        assert_eq!(uses("echo {{A}} # let {{B}}"), []);
        assert_eq!(uses("cat <<EOF\nx {{A}} $((1))\nEOF\n"), []);
    }
}
