//! Windows Installer exit codes reported by scripts as `##goldsmith-msi:<name>:<code>`.

use crate::record::event::InstallResult;
use crate::record::failure::FailureClass;

/// What one installer result means for the operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsiVerdict {
    Ok,
    /// Success; a restart is needed to finish (3010).
    RebootRequired,
    /// Success; the installer started a restart (1641): wait for the VM agent before the next run-command.
    RebootStarted,
    /// A failure code the app's `ok_codes` lists: it counts as installed (1638 from
    /// a runtime bootstrapper when the same or a newer version is already there).
    Accepted,
    Failed(FailureClass),
}

/// Per install-apps app, the codes its `ok_codes` lists: what the engine
/// accepts from that app's installer on top of 0, 3010 and 1641.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AcceptedCodes(Vec<(String, Vec<i64>)>);

impl AcceptedCodes {
    /// From `(app name, its ok_codes)`; apps without any are left out.
    pub fn new<'a>(apps: impl IntoIterator<Item = (&'a str, &'a [i64])>) -> Self {
        AcceptedCodes(
            apps.into_iter()
                .filter(|(_, codes)| !codes.is_empty())
                .map(|(name, codes)| (name.to_string(), codes.to_vec()))
                .collect(),
        )
    }

    /// Whether `app` lists `code` in its `ok_codes`.
    pub fn accepts(&self, app: &str, code: i64) -> bool {
        self.0
            .iter()
            .any(|(name, codes)| name == app && codes.contains(&code))
    }
}

/// The verdict on one reported install: its code's, unless its app's `ok_codes` accepted it.
pub fn judge(install: &InstallResult) -> MsiVerdict {
    if install.accepted {
        MsiVerdict::Accepted
    } else {
        verdict(install.code)
    }
}

/// HRESULT 0x80070652, the form bootstrappers report 1618 in.
const HRESULT_INSTALL_ALREADY_RUNNING: i64 = 0x8007_0652;

pub fn verdict(code: i64) -> MsiVerdict {
    match code {
        0 => MsiVerdict::Ok,
        3010 => MsiVerdict::RebootRequired,
        1641 => MsiVerdict::RebootStarted,
        // "Already absent" for an uninstall.
        1605 | 1614 => MsiVerdict::Ok,
        1618 => MsiVerdict::Failed(FailureClass::MsiBusy),
        c if c == HRESULT_INSTALL_ALREADY_RUNNING
            || c == HRESULT_INSTALL_ALREADY_RUNNING - (1 << 32) =>
        {
            MsiVerdict::Failed(FailureClass::MsiBusy)
        }
        1603 => MsiVerdict::Failed(FailureClass::MsiFatal),
        1638 => MsiVerdict::Failed(FailureClass::MsiOtherVersion),
        _ => MsiVerdict::Failed(FailureClass::MsiFailed),
    }
}

/// Windows Installer's name for a code, for messages.
pub fn name(code: i64) -> &'static str {
    match code {
        0 => "ERROR_SUCCESS",
        3010 => "ERROR_SUCCESS_REBOOT_REQUIRED",
        1641 => "ERROR_SUCCESS_REBOOT_INITIATED",
        1601 => "ERROR_INSTALL_SERVICE_FAILURE",
        1602 => "ERROR_INSTALL_USEREXIT",
        1603 => "ERROR_INSTALL_FAILURE",
        1604 => "ERROR_INSTALL_SUSPEND",
        1605 => "ERROR_UNKNOWN_PRODUCT",
        1606 => "ERROR_UNKNOWN_FEATURE",
        1607 => "ERROR_UNKNOWN_COMPONENT",
        1608 => "ERROR_UNKNOWN_PROPERTY",
        1609 => "ERROR_INVALID_HANDLE_STATE",
        1610 => "ERROR_BAD_CONFIGURATION",
        1611 => "ERROR_INDEX_ABSENT",
        1612 => "ERROR_INSTALL_SOURCE_ABSENT",
        1613 => "ERROR_INSTALL_PACKAGE_VERSION",
        1614 => "ERROR_PRODUCT_UNINSTALLED",
        1615 => "ERROR_BAD_QUERY_SYNTAX",
        1616 => "ERROR_INVALID_FIELD",
        1618 => "ERROR_INSTALL_ALREADY_RUNNING",
        1619 => "ERROR_INSTALL_PACKAGE_OPEN_FAILED",
        1620 => "ERROR_INSTALL_PACKAGE_INVALID",
        1621 => "ERROR_INSTALL_UI_FAILURE",
        1622 => "ERROR_INSTALL_LOG_FAILURE",
        1623 => "ERROR_INSTALL_LANGUAGE_UNSUPPORTED",
        1624 => "ERROR_INSTALL_TRANSFORM_FAILURE",
        1625 => "ERROR_INSTALL_PACKAGE_REJECTED",
        1626 => "ERROR_FUNCTION_NOT_CALLED",
        1627 => "ERROR_FUNCTION_FAILED",
        1628 => "ERROR_INVALID_TABLE",
        1629 => "ERROR_DATATYPE_MISMATCH",
        1630 => "ERROR_UNSUPPORTED_TYPE",
        1631 => "ERROR_CREATE_FAILED",
        1632 => "ERROR_INSTALL_TEMP_UNWRITABLE",
        1633 => "ERROR_INSTALL_PLATFORM_UNSUPPORTED",
        1634 => "ERROR_INSTALL_NOTUSED",
        1635 => "ERROR_PATCH_PACKAGE_OPEN_FAILED",
        1636 => "ERROR_PATCH_PACKAGE_INVALID",
        1637 => "ERROR_PATCH_PACKAGE_UNSUPPORTED",
        1638 => "ERROR_PRODUCT_VERSION",
        1639 => "ERROR_INVALID_COMMAND_LINE",
        1640 => "ERROR_INSTALL_REMOTE_DISALLOWED",
        1642 => "ERROR_PATCH_TARGET_NOT_FOUND",
        1643 => "ERROR_PATCH_PACKAGE_REJECTED",
        1644 => "ERROR_INSTALL_TRANSFORM_REJECTED",
        1645 => "ERROR_INSTALL_REMOTE_PROHIBITED",
        1646 => "ERROR_PATCH_REMOVAL_UNSUPPORTED",
        1647 => "ERROR_UNKNOWN_PATCH",
        1648 => "ERROR_PATCH_NO_SEQUENCE",
        1649 => "ERROR_PATCH_REMOVAL_DISALLOWED",
        1650 => "ERROR_INVALID_PATCH_XML",
        1651 => "ERROR_PATCH_MANAGED_ADVERTISED_PRODUCT",
        1652 => "ERROR_INSTALL_SERVICE_SAFEBOOT",
        1653 => "ERROR_ROLLBACK_DISABLED",
        1654 => "ERROR_INSTALL_REJECTED",
        c if c == HRESULT_INSTALL_ALREADY_RUNNING
            || c == HRESULT_INSTALL_ALREADY_RUNNING - (1 << 32) =>
        {
            "ERROR_INSTALL_ALREADY_RUNNING (HRESULT 0x80070652)"
        }
        _ => "unknown installer code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_codes_accept_only_their_own_apps_codes() {
        let codes = [1638];
        let accepted = AcceptedCodes::new([("vc-redist-x64", &codes[..]), ("teams", &[][..])]);
        assert!(accepted.accepts("vc-redist-x64", 1638));
        assert!(!accepted.accepts("vc-redist-x64", 1603));
        assert!(!accepted.accepts("webrtc-redirector", 1638));
        assert_eq!(
            AcceptedCodes::new([("teams", &[][..])]),
            AcceptedCodes::default()
        );
    }

    #[test]
    fn installer_codes() {
        assert_eq!(verdict(0), MsiVerdict::Ok);
        assert_eq!(verdict(3010), MsiVerdict::RebootRequired);
        assert_eq!(verdict(1641), MsiVerdict::RebootStarted);
        assert_eq!(verdict(1618), MsiVerdict::Failed(FailureClass::MsiBusy));
        assert_eq!(
            verdict(0x8007_0652),
            MsiVerdict::Failed(FailureClass::MsiBusy)
        );
        assert_eq!(
            verdict(-2147023278),
            MsiVerdict::Failed(FailureClass::MsiBusy)
        );
        assert_eq!(verdict(1603), MsiVerdict::Failed(FailureClass::MsiFatal));
        assert_eq!(
            verdict(1638),
            MsiVerdict::Failed(FailureClass::MsiOtherVersion)
        );
        assert_eq!(verdict(1605), MsiVerdict::Ok);
        assert_eq!(verdict(1620), MsiVerdict::Failed(FailureClass::MsiFailed));
        assert_eq!(name(1620), "ERROR_INSTALL_PACKAGE_INVALID");
        assert_eq!(name(1638), "ERROR_PRODUCT_VERSION");
        assert_eq!(
            name(-2147023278),
            "ERROR_INSTALL_ALREADY_RUNNING (HRESULT 0x80070652)"
        );
    }
}
