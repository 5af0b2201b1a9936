//! Checks one `az` call against the command's spec the way az 2.91.0 does
//! before it runs anything: Python's argparse (3.11) as azure-cli configures
//! it (abbreviations allowed, az's own invalid-value message), then the
//! checks az makes right after parsing (`--ids` or the names, aaz's required
//! fields). The first error wins, in az's order, and is printed as az prints
//! it, help examples included; see `tests/fixtures/args/`.

use std::collections::BTreeSet;

use super::error::{AzError, Example};
use super::output::Query;
use super::similar;
use super::spec::{CommandSpec, Nargs, OptionSpec};

/// What one word is to argparse.
enum Word {
    /// 'A': a value or a positional.
    Value,
    /// 'O': an option; `None` when the command has no such option.
    /// `spelled` is the option string an abbreviation stands for.
    Option {
        option: Option<usize>,
        explicit: Option<String>,
        spelled: Option<&'static str>,
    },
}

/// argparse's `_negative_number_matcher`: `^-\d+$|^-\d*\.\d+$`.
fn is_negative_number(word: &str) -> bool {
    let Some(rest) = word.strip_prefix('-') else {
        return false;
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    match rest.split_once('.') {
        None => !rest.is_empty() && digits(rest),
        Some((int, frac)) => digits(int) && !frac.is_empty() && digits(frac),
    }
}

struct Parser<'a> {
    path: &'a str,
    spec: &'static CommandSpec,
    /// Option strings in registration order, with their option's index.
    strings: Vec<(&'static str, usize)>,
    /// The words after the command, for the recommender.
    raw: &'a [String],
}

impl<'a> Parser<'a> {
    fn new(path: &'a str, spec: &'static CommandSpec, raw: &'a [String]) -> Self {
        let strings = spec
            .options
            .iter()
            .enumerate()
            .flat_map(|(i, o)| o.names.iter().map(move |n| (n.as_str(), i)))
            .collect();
        Parser {
            path,
            spec,
            strings,
            raw,
        }
    }

    fn exact(&self, s: &str) -> Option<usize> {
        self.strings.iter().find(|(n, _)| *n == s).map(|(_, i)| *i)
    }

    /// argparse's `_parse_optional`.
    fn classify(&self, word: &str) -> Result<Word, AzError> {
        if !word.starts_with('-') {
            return Ok(Word::Value);
        }
        if let Some(i) = self.exact(word) {
            return Ok(Word::Option {
                option: Some(i),
                explicit: None,
                spelled: None,
            });
        }
        if word.len() == 1 {
            return Ok(Word::Value);
        }
        if let Some((flag, value)) = word.split_once('=')
            && let Some(i) = self.exact(flag)
        {
            return Ok(Word::Option {
                option: Some(i),
                explicit: Some(value.to_string()),
                spelled: None,
            });
        }
        let tuples = self.option_tuples(word);
        if tuples.len() > 1 {
            let matches: Vec<&str> = tuples.iter().map(|(_, s, _)| *s).collect();
            return Err(self.usage(format!(
                "ambiguous option: {word} could match {}",
                matches.join(", ")
            )));
        }
        if let Some((i, spelled, explicit)) = tuples.into_iter().next() {
            return Ok(Word::Option {
                option: Some(i),
                explicit,
                spelled: Some(spelled),
            });
        }
        // No az command has an option that looks like a negative number.
        if is_negative_number(word) || word.contains(' ') {
            return Ok(Word::Value);
        }
        Ok(Word::Option {
            option: None,
            explicit: None,
            spelled: None,
        })
    }

    /// argparse's `_get_option_tuples`: abbreviations (allow_abbrev is on in az).
    fn option_tuples(&self, word: &str) -> Vec<(usize, &'static str, Option<String>)> {
        let mut out = Vec::new();
        if word.starts_with("--") {
            let (prefix, explicit) = match word.split_once('=') {
                Some((p, v)) => (p, Some(v.to_string())),
                None => (word, None),
            };
            for (s, i) in &self.strings {
                if s.starts_with(prefix) {
                    out.push((*i, *s, explicit.clone()));
                }
            }
        } else {
            let short: String = word.chars().take(2).collect();
            let short_explicit: String = word.chars().skip(2).collect();
            for (s, i) in &self.strings {
                if *s == short {
                    out.push((*i, *s, Some(short_explicit.clone())));
                } else if s.starts_with(word) {
                    out.push((*i, *s, None));
                }
            }
        }
        out
    }

    /// An error the command's own parser raises: az adds the help examples.
    fn usage(&self, message: String) -> AzError {
        AzError::usage(message).with_examples(self.examples())
    }

    /// The top three help examples, ordered by az's CommandRecommender:
    /// those sharing more of the caller's options first, then shorter ones.
    fn examples(&self) -> Vec<Example> {
        let names = &self.spec.recommender_names;
        let normalize = |words: &mut dyn Iterator<Item = &str>| -> Vec<String> {
            words
                .filter(|p| p.starts_with('-') && !p.starts_with("---") && p.len() > 1)
                .map(|p| {
                    if p.starts_with("--") {
                        p.split('=').next().unwrap_or(p).to_string()
                    } else {
                        p.chars().take(2).collect()
                    }
                })
                .filter_map(|p| match names.get(&p) {
                    Some(Some(standard)) => Some(standard.clone()),
                    Some(None) => Some(p),
                    None => None,
                })
                .collect()
        };
        let target = normalize(&mut self.raw.iter().map(String::as_str));
        let prefix = format!("az {}", self.path);
        let mut ranked: Vec<(i64, i64, &super::spec::SpecExample)> = self
            .spec
            .examples
            .iter()
            .map(|e| {
                let args = normalize(&mut e.command.split(' '));
                let matches = if e.command.starts_with(&prefix) {
                    args.iter().filter(|a| target.contains(a)).count() as i64
                } else {
                    -1
                };
                (matches, -(args.len() as i64), e)
            })
            .collect();
        // Python's sort(reverse=True) is stable: equal keys keep their order.
        ranked.sort_by_key(|&(matches, shorter, _)| std::cmp::Reverse((matches, shorter)));
        ranked
            .into_iter()
            .take(3)
            .map(|(_, _, e)| Example {
                // az prints it word by word (style.highlight_command).
                command: e.command.split_whitespace().collect::<Vec<_>>().join(" "),
                description: e.description.clone(),
            })
            .collect()
    }

    /// az's `_check_value`: the value must be one of the choices.
    fn check_value(&self, option: &OptionSpec, value: &str) -> Result<(), AzError> {
        let Some(choices) = &option.choices else {
            return Ok(());
        };
        let ok = choices.iter().any(|c| {
            if option.choices_ignore_case {
                c.eq_ignore_ascii_case(value)
            } else {
                c == value
            }
        });
        if ok {
            return Ok(());
        }
        let mut error = AzError::usage(format!(
            "az {}: '{value}' is not a valid value for '{}'. Allowed values: {}.",
            self.path,
            option.names[0],
            choices.join(", ")
        ));
        if let Some(best) = similar::closest(value, choices.iter().map(String::as_str)) {
            error = error.with_recommendation(format!("Did you mean '{best}' ?"));
        }
        Err(error.with_examples(self.examples()))
    }

    /// The options given, and the words with every abbreviation spelled out
    /// (`--resource-gro` → `--resource-group`) for the command's handler.
    fn parse(&self) -> Result<(BTreeSet<usize>, Vec<String>), AzError> {
        // Classify every word first, as argparse does.
        let mut kinds = Vec::with_capacity(self.raw.len());
        let mut after_dashes = false;
        for word in self.raw {
            if after_dashes {
                kinds.push(Word::Value);
            } else if word == "--" {
                after_dashes = true;
                kinds.push(Word::Value);
            } else {
                kinds.push(self.classify(word)?);
            }
        }
        let spelled_out = self
            .raw
            .iter()
            .zip(&kinds)
            .flat_map(|(word, kind)| match kind {
                Word::Option {
                    spelled: Some(full),
                    explicit: Some(value),
                    ..
                } if word.starts_with("--") => vec![format!("{full}={value}")],
                // `-gvalue`: the handler reads `-g value`.
                Word::Option {
                    spelled: Some(full),
                    explicit: Some(value),
                    ..
                } => vec![full.to_string(), value.clone()],
                Word::Option {
                    spelled: Some(full),
                    ..
                } => vec![full.to_string()],
                _ => vec![word.clone()],
            })
            .collect();
        let is_value = |i: usize| matches!(kinds.get(i), Some(Word::Value));
        let mut seen = BTreeSet::new();
        let mut extras: Vec<String> = Vec::new();
        let mut positional = 0;
        let mut i = 0;
        while i < self.raw.len() {
            let (option, explicit) = match &kinds[i] {
                Word::Option {
                    option, explicit, ..
                } => (option, explicit),
                Word::Value => {
                    // A run of values before the next option: positionals first.
                    let mut end = i;
                    while is_value(end) {
                        end += 1;
                    }
                    while positional < self.spec.positionals.len() && i < end {
                        let p = &self.spec.positionals[positional];
                        let take = match p.nargs {
                            Nargs::Exactly(n) => n.min(end - i),
                            Nargs::Optional => 1,
                            Nargs::Any | Nargs::AtLeastOne => end - i,
                        };
                        i += take;
                        positional += 1;
                    }
                    extras.extend(self.raw[i..end].iter().cloned());
                    i = end;
                    continue;
                }
            };
            let Some(index) = option else {
                extras.push(self.raw[i].clone());
                i += 1;
                continue;
            };
            let spec = &self.spec.options[*index];
            let shown = spec.shown();
            let values: Vec<&str> = if let Some(value) = explicit {
                match spec.nargs {
                    Nargs::Exactly(0) => {
                        return Err(self.usage(format!(
                            "argument {shown}: ignored explicit argument '{value}'"
                        )));
                    }
                    Nargs::Exactly(n) if n > 1 => {
                        return Err(self.usage(format!("argument {shown}: expected {n} arguments")));
                    }
                    _ => {}
                }
                i += 1;
                vec![value.as_str()]
            } else {
                let mut available = 0;
                while is_value(i + 1 + available) {
                    available += 1;
                }
                let take = match spec.nargs {
                    Nargs::Exactly(0) => 0,
                    Nargs::Exactly(n) if available >= n => n,
                    Nargs::Exactly(1) => {
                        return Err(self.usage(format!("argument {shown}: expected one argument")));
                    }
                    Nargs::Exactly(n) => {
                        return Err(self.usage(format!("argument {shown}: expected {n} arguments")));
                    }
                    Nargs::Optional => available.min(1),
                    Nargs::Any => available,
                    Nargs::AtLeastOne if available == 0 => {
                        return Err(
                            self.usage(format!("argument {shown}: expected at least one argument"))
                        );
                    }
                    Nargs::AtLeastOne => available,
                };
                let values = self.raw[i + 1..i + 1 + take]
                    .iter()
                    .map(String::as_str)
                    .filter(|v| *v != "--")
                    .collect();
                i += 1 + take;
                values
            };
            for value in values {
                // argparse converts a value (its `type`) before it checks the
                // choices; of the conversions only --query's is simulated.
                if spec.dest == "_jmespath_query" {
                    Query::compile(value)?;
                }
                self.check_value(spec, value)?;
            }
            seen.insert(*index);
        }
        let mut missing: Vec<String> = self
            .spec
            .options
            .iter()
            .enumerate()
            .filter(|(i, o)| o.required && !seen.contains(i))
            .map(|(_, o)| o.shown())
            .collect();
        missing.extend(
            self.spec.positionals[positional..]
                .iter()
                .filter(|p| matches!(p.nargs, Nargs::AtLeastOne | Nargs::Exactly(1..)))
                .map(|p| p.name.clone()),
        );
        if !missing.is_empty() {
            return Err(self.usage(format!(
                "the following arguments are required: {}",
                missing.join(", ")
            )));
        }
        if !extras.is_empty() {
            // Raised by az's top-level parser, which has no examples.
            return Err(AzError::unrecognized(&extras));
        }
        Ok((seen, spelled_out))
    }

    /// The checks az makes once the words parsed: `--ids` or the names.
    fn after_parse(&self, seen: &BTreeSet<usize>) -> Result<(), AzError> {
        let given = |dest: &str| {
            self.spec
                .option_by_dest(dest)
                .is_some_and(|i| seen.contains(&i))
        };
        if given("ids") || given("_ids") {
            return Ok(());
        }
        if let Some(required) = &self.spec.ids_required {
            let missing: Vec<&str> = required
                .iter()
                .filter(|name| {
                    !self
                        .spec
                        .options
                        .iter()
                        .position(|o| o.names.contains(name))
                        .is_some_and(|i| seen.contains(&i))
                })
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(AzError::cli(format!(
                    "({} | --ids) are required",
                    missing.join(" ")
                )));
            }
        }
        for field in self.spec.aaz_fields.iter().flatten() {
            if given(&field.dest) {
                continue;
            }
            if field.network_default {
                // Real az looks it up from the group first: the simulator
                // answers that call as ARM would.
                break;
            }
            if field.required {
                return Err(AzError::cli(format!(
                    "InvalidArgumentValue: Missing required field: {}",
                    field.shown
                )));
            }
        }
        Ok(())
    }
}

/// Checks the words after the command (`raw`) against the command's spec;
/// returns them with abbreviated options spelled out.
pub fn check(
    path: &str,
    spec: &'static CommandSpec,
    raw: &[String],
) -> Result<Vec<String>, AzError> {
    let parser = Parser::new(path, spec, raw);
    let (seen, spelled_out) = parser.parse()?;
    parser.after_parse(&seen)?;
    Ok(spelled_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_numbers_are_values() {
        assert!(is_negative_number("-1"));
        assert!(is_negative_number("-.5"));
        assert!(is_negative_number("-1.5"));
        assert!(!is_negative_number("-inf"));
        assert!(!is_negative_number("-1e5"));
        assert!(!is_negative_number("-"));
    }
}
