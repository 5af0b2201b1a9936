//! What a finished check run says: its conclusion and its annotations, and
//! how goldsmith's workflow-command annotations become check-run ones.
//!
//! Plain data; the wire format lives in `body`, the text limits in `limits`.

use crate::github::commands::{Annotation, Level};

/// How the work ended, in the Checks API's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Conclusion {
    Success,
    Failure,
    Cancelled,
    TimedOut,
}

impl Conclusion {
    /// The API's `conclusion` value.
    pub fn name(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::TimedOut => "timed_out",
        }
    }
}

/// An annotation's `annotation_level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnnotationLevel {
    Notice,
    Warning,
    Failure,
}

impl AnnotationLevel {
    pub fn name(self) -> &'static str {
        match self {
            AnnotationLevel::Notice => "notice",
            AnnotationLevel::Warning => "warning",
            AnnotationLevel::Failure => "failure",
        }
    }
}

/// One check-run annotation: a message on lines of a file of the commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckAnnotation {
    /// Relative to the repository root, with `/` separators.
    pub path: String,
    /// From 1.
    pub start_line: u32,
    /// At least `start_line`.
    pub end_line: u32,
    pub level: AnnotationLevel,
    pub title: Option<String>,
    pub message: String,
}

impl CheckAnnotation {
    /// The same annotation for a project that lives in `dir` of the
    /// repository (the action's `working-directory`), since goldsmith's
    /// paths are relative to the project and GitHub's to the repository.
    pub fn in_dir(mut self, dir: &str) -> Self {
        let dir = normalize_path(dir);
        if !dir.is_empty() {
            self.path = format!("{}/{}", dir.trim_end_matches('/'), self.path);
        }
        self
    }
}

/// The check-run form of a workflow-command annotation.
///
/// `None` when it names no file: a check-run annotation must point at one.
/// An annotation without a line goes on line 1, where GitHub shows a
/// file-level one.
pub fn annotation_from(a: &Annotation) -> Option<CheckAnnotation> {
    let path = normalize_path(a.file.as_deref()?);
    if path.is_empty() {
        return None;
    }
    let start_line = a.line.filter(|l| *l > 0).unwrap_or(1);
    let end_line = a.end_line.unwrap_or(start_line).max(start_line);
    let level = match a.level {
        Level::Error => AnnotationLevel::Failure,
        Level::Warning => AnnotationLevel::Warning,
        Level::Notice => AnnotationLevel::Notice,
    };
    Some(CheckAnnotation {
        path,
        start_line,
        end_line,
        level,
        title: a.title.clone().filter(|t| !t.trim().is_empty()),
        message: a.message.clone(),
    })
}

/// `/` separators and no leading `./`: GitHub matches paths as written.
fn normalize_path(path: &str) -> String {
    let mut p = path.trim().replace('\\', "/");
    while let Some(rest) = p.strip_prefix("./") {
        p = rest.to_string();
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_become_failures_on_their_lines() {
        let mut a = Annotation::new(Level::Error, "boom");
        a.file = Some(".\\modules\\05-golden-image\\module.yaml".into());
        a.line = Some(12);
        a.title = Some("install-fslogix: msi_fatal".into());
        let c = annotation_from(&a).expect("has a file");
        assert_eq!(c.path, "modules/05-golden-image/module.yaml");
        assert_eq!((c.start_line, c.end_line), (12, 12));
        assert_eq!(c.level, AnnotationLevel::Failure);
        assert_eq!(
            c.in_dir("infra/").path,
            "infra/modules/05-golden-image/module.yaml"
        );
    }

    #[test]
    fn no_file_no_annotation_and_no_line_is_line_one() {
        assert_eq!(annotation_from(&Annotation::new(Level::Warning, "w")), None);
        let mut a = Annotation::new(Level::Notice, "n");
        a.file = Some("config.yaml".into());
        a.end_line = Some(0);
        let c = annotation_from(&a).expect("has a file");
        assert_eq!((c.start_line, c.end_line), (1, 1));
        assert_eq!(c.level, AnnotationLevel::Notice);
    }
}
