//! Where something sits in a source file, for diagnostics that point at it.

/// Where a node starts in its file (1-based line and column, length in chars).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
    pub len: u32,
}
