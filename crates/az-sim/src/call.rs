//! The handler's view of one `az` call: its options and the helpers every
//! command shares (location, tags, `--no-wait`, `--yes`, simulated delays).

use std::cell::RefCell;

use serde_json::{Map, Value};

use super::args::Args;
use super::error::AzError;
use super::sim::Sim;
use super::world::DEFAULT_LOCATION;

/// A command's result: `None` prints nothing.
pub type Outcome = Result<Option<Value>, AzError>;

/// One `az` call as its handler sees it: the simulator it runs against and
/// its options, checked against the command's spec.
pub struct Call<'a> {
    pub sim: &'a Sim,
    pub args: Args,
    /// `WARNING: …` lines for stderr; they do not fail the command.
    pub warnings: RefCell<Vec<String>>,
}

impl Call<'_> {
    pub fn sub(&self) -> &str {
        self.sim.subscription()
    }

    pub fn location(&self) -> Result<String, AzError> {
        Ok(self
            .args
            .one("location")?
            .map(|l| l.to_ascii_lowercase().replace(' ', ""))
            .unwrap_or_else(|| DEFAULT_LOCATION.to_string()))
    }

    /// `--tags a=b c=d` as ARM shows tags; `--tags ""` clears them.
    pub fn tags(&self) -> Value {
        Value::Object(key_values(&self.args.many("tags")))
    }

    pub fn no_wait(&self) -> Result<bool, AzError> {
        self.args.flag("no-wait")
    }

    /// Commands that delete ask first; without a terminal only `--yes` answers.
    pub fn confirm(&self) -> Result<(), AzError> {
        if self.args.flag("yes")? {
            Ok(())
        } else {
            Err(AzError::no_tty_confirmation())
        }
    }

    /// A `WARNING: ` line az's logger prints on stderr.
    pub fn warn(&self, message: impl Into<String>) {
        self.warnings
            .borrow_mut()
            .push(format!("WARNING: {}\n", message.into()));
    }

    /// Text az prints on stderr as it is (a styled notice), in order with its warnings.
    pub fn notice(&self, text: impl Into<String>) {
        self.warnings.borrow_mut().push(text.into());
    }

    pub fn delay(&self, seconds: f64) {
        self.sim.sleep(seconds);
    }

    pub fn opt_string(&self, name: &str) -> Result<Value, AzError> {
        Ok(self
            .args
            .one(name)?
            .map(Value::String)
            .unwrap_or(Value::Null))
    }

    pub fn opt_bool(&self, name: &str, default: bool) -> Result<bool, AzError> {
        match self.args.one(name)? {
            None => Ok(default),
            Some(v) => parse_bool(name, &v),
        }
    }

    pub fn opt_int(&self, name: &str, default: i64) -> Result<i64, AzError> {
        match self.args.one(name)? {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                AzError::usage(format!(
                    "argument {}: invalid int value: '{v}'",
                    self.args.shown(name)
                ))
            }),
        }
    }
}

pub fn parse_bool(name: &str, value: &str) -> Result<bool, AzError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "y" | "t" | "on" => Ok(true),
        "false" | "no" | "0" | "n" | "f" | "off" => Ok(false),
        _ => Err(AzError::usage(format!(
            "argument --{name}: invalid value: '{value}'. Allowed values: false, true"
        ))),
    }
}

/// `key=value` words (tags, shorthand syntax) as a JSON object.
pub fn key_values(words: &[String]) -> Map<String, Value> {
    words
        .iter()
        .filter(|w| !w.is_empty())
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Value::String(v.to_string())),
            None => (w.to_string(), Value::String(String::new())),
        })
        .collect()
}

/// Now as ARM writes timestamps.
pub fn timestamp() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}
