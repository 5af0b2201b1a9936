//! The scenario's `installers:`: what a simulated installer returns, by app
//! name, overriding the code a script's directive gives (install-apps apps
//! and `msi=` steps alike), for every call or one operation's early attempts.

use super::directives::{Directives, Step};

/// One `installers:` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct InstallerResult {
    /// Only this operation's installs; every operation's when absent.
    pub op: Option<String>,
    /// The app (install-apps) or MSI (`msi=`) name.
    pub app: String,
    pub code: i32,
    /// Only attempts `1..=attempts`; every attempt (and check) when absent.
    pub attempts: Option<u32>,
}

impl InstallerResult {
    fn matches(&self, op: Option<&str>, attempt: u32, app: &str) -> bool {
        self.app == app
            && self.op.as_deref().is_none_or(|o| Some(o) == op)
            && self.attempts.is_none_or(|n| (1..=n).contains(&attempt))
    }
}

/// `directives` with the codes the first matching entry of `results` gives
/// for the calling operation `op`'s attempt `attempt`.
pub fn apply(
    results: &[InstallerResult],
    op: Option<&str>,
    attempt: u32,
    directives: &Directives,
) -> Directives {
    let mut d = directives.clone();
    if results.is_empty() {
        return d;
    }
    let code = |name: &str| {
        results
            .iter()
            .find(|r| r.matches(op, attempt, name))
            .map(|r| r.code)
    };
    for step in &mut d.steps {
        if let Step::Msi(msi) = step
            && let Some(c) = code(&msi.name)
        {
            msi.code = c;
        }
    }
    for app in &mut d.apps {
        if let Some(c) = code(&app.name) {
            app.code = c;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(op: Option<&str>, app: &str, code: i32, attempts: Option<u32>) -> InstallerResult {
        InstallerResult {
            op: op.map(str::to_string),
            app: app.to_string(),
            code,
            attempts,
        }
    }

    fn codes(d: &Directives) -> Vec<(String, i32)> {
        let msis = d.steps.iter().filter_map(|s| match s {
            Step::Msi(m) => Some((m.name.clone(), m.code)),
            _ => None,
        });
        msis.chain(d.apps.iter().map(|a| (a.name.clone(), a.code)))
            .collect()
    }

    #[test]
    fn the_first_matching_entry_sets_the_code_of_apps_and_msi_steps() {
        let d = Directives::parse(
            "# goldsmith-sim: msi=vcredist:0\n# goldsmith-sim: app=adobe app=m365 app=chrome:0:3m:2m\n",
        )
        .unwrap();
        let results = [
            result(None, "adobe", 3010, None),
            result(Some("install-m365-apps"), "m365", 1603, Some(1)),
            result(None, "vcredist", 1638, None),
        ];
        let expect = |m365: i32| {
            vec![
                ("vcredist".to_string(), 1638),
                ("adobe".to_string(), 3010),
                ("m365".to_string(), m365),
                ("chrome".to_string(), 0),
            ]
        };
        assert_eq!(
            codes(&apply(&results, Some("install-m365-apps"), 1, &d)),
            expect(1603)
        );
        // The second attempt, and another operation, get the directive's code.
        assert_eq!(
            codes(&apply(&results, Some("install-m365-apps"), 2, &d)),
            expect(0)
        );
        assert_eq!(codes(&apply(&results, Some("other"), 1, &d)), expect(0));
        assert_eq!(codes(&apply(&[], None, 1, &d)), codes(&d));
    }
}
