//! The `windows_update:` block of a `kind: windows-update` operation: which
//! update categories to install, which updates to leave out, and how many
//! search-download-install rounds (with a restart between) it may take.

use super::operation::{Text, parse_text};
use crate::source::Pos;
use crate::source::fields::Reader;
use crate::source::yaml::Node;

/// Rounds when `max_rounds` is not given: Packer's windows-update provisioner
/// and AIB's WindowsUpdate customiser usually finish within three.
pub const DEFAULT_MAX_ROUNDS: u32 = 5;
/// The most rounds an operation may ask for.
pub const MOST_ROUNDS: u32 = 10;

#[derive(Clone, Debug, PartialEq)]
pub struct WindowsUpdate {
    /// Comma-separated Windows Update Agent category names, templated.
    pub categories: Text,
    /// Comma-separated KB ids (`KB5034441`) or title substrings, templated; may be empty.
    pub exclude: Option<Text>,
    pub max_rounds: u32,
    pub pos: Pos,
}

pub fn parse(r: &mut Reader<'_>, node: &Node) -> Option<WindowsUpdate> {
    let f = r.fields(
        node,
        "windows_update",
        &["categories", "exclude", "max_rounds"],
        &[],
    )?;
    let categories = r
        .required(&f, "categories", "windows_update")
        .and_then(|n| parse_text(r, n, "windows_update.categories"));
    let exclude = r
        .optional(&f, "exclude")
        .and_then(|n| parse_text(r, n, "windows_update.exclude"));
    let max_rounds = match r.optional(&f, "max_rounds") {
        None => DEFAULT_MAX_ROUNDS,
        Some(n) => {
            let rounds = r.positive_int(n, "windows_update.max_rounds")?;
            if rounds > MOST_ROUNDS {
                r.error_help(
                    n.pos,
                    format!("`windows_update.max_rounds` is {rounds}, over {MOST_ROUNDS}"),
                    "each round is a search, download and install with a restart after it: more than 10 rounds means updates keep failing to stick",
                );
                return None;
            }
            rounds
        }
    };
    Some(WindowsUpdate {
        categories: categories?,
        exclude,
        max_rounds,
        pos: node.pos,
    })
}
