//! Python's `difflib.get_close_matches`, which az uses to suggest a command
//! for a misspelled one ("Did you mean 'group' ?").

/// `SequenceMatcher(None, a, b).ratio()`: twice the matched characters over
/// the total length, matching the longest common blocks first.
pub fn ratio(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let total = a.len() + b.len();
    if total == 0 {
        return 1.0;
    }
    2.0 * matched(&a, &b) as f64 / total as f64
}

fn matched(a: &[char], b: &[char]) -> usize {
    let (mut best, mut best_i, mut best_j) = (0, 0, 0);
    for i in 0..a.len() {
        for j in 0..b.len() {
            let mut k = 0;
            while i + k < a.len() && j + k < b.len() && a[i + k] == b[j + k] {
                k += 1;
            }
            if k > best {
                (best, best_i, best_j) = (k, i, j);
            }
        }
    }
    if best == 0 {
        return 0;
    }
    best + matched(&a[..best_i], &b[..best_j]) + matched(&a[best_i + best..], &b[best_j + best..])
}

/// The best of `choices` with a ratio of at least 0.7, as `get_close_matches(word, choices, cutoff=0.7)[0]`.
pub fn closest<'a>(word: &str, choices: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for choice in choices {
        // difflib compares SequenceMatcher(a=choice, b=word): the order picks
        // which of two equally long blocks counts.
        let score = ratio(choice, word);
        if score < 0.7 {
            continue;
        }
        // Ties go to the larger string, as heapq.nlargest on (score, word) does.
        let better = match best {
            None => true,
            Some((s, c)) => score > s || (score == s && choice > c),
        };
        if better {
            best = Some((score, choice));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_difflib() {
        assert_eq!(ratio("abcd", "bcde"), 0.75);
        assert_eq!(ratio("grup", "group"), 8.0 / 9.0);
        assert_eq!(closest("grup", ["group", "vm", "network"]), Some("group"));
        assert_eq!(closest("xyz", ["group", "vm"]), None);
    }
}
