//! An install-apps app's `after: [vc-redist-x64]`: earlier-listed apps of the
//! same operation whose installs must have ended before this one starts.
//!
//! The generated script installs each app as soon as its own download is
//! done, so a small app listed after its prerequisite could otherwise
//! install first (the WebRTC redirector needs the Visual C++ runtime).

use crate::source::Pos;
use crate::source::fields::Reader;
use crate::source::yaml::Node;

/// Reads `after:` (a name or a list of names) of the app `name`, listed
/// after the apps `earlier`; returns the indices of the named apps,
/// reporting every name that is not an earlier app.
pub fn parse(r: &mut Reader<'_>, node: &Node, name: &str, earlier: &[&str]) -> Vec<usize> {
    let mut found: Vec<usize> = Vec::new();
    for (wanted, pos) in r.string_list(node, "after") {
        match earlier.iter().position(|n| *n == wanted) {
            Some(i) if !found.contains(&i) => found.push(i),
            Some(_) => r.error(pos, format!("app `{name}`: `after` lists `{wanted}` twice")),
            None => unknown(r, pos, name, &wanted, earlier),
        }
    }
    found
}

fn unknown(r: &mut Reader<'_>, pos: Pos, name: &str, wanted: &str, earlier: &[&str]) {
    let help = if earlier.is_empty() {
        format!("`{name}` is the first app: nothing is listed before it to wait for")
    } else {
        format!(
            "`after` names apps listed before `{name}` in this operation: {}",
            earlier.join(", ")
        )
    };
    r.error_help(
        pos,
        format!("app `{name}`: `after: {wanted}` is not an app listed before it"),
        help,
    );
}
