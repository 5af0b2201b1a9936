//! Words for people: a count with its noun in the right number.

/// `1 stage`, `2 stages`, `0 operations`: nouns that take a plain `s`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular_everything_else_plural() {
        assert_eq!(count(1, "stage"), "1 stage");
        assert_eq!(count(0, "stage"), "0 stages");
        assert_eq!(count(20, "operation"), "20 operations");
    }
}
