//! Names of the HRESULTs Windows Update reports most, for messages: the
//! `WU_E_*` codes of Microsoft's "Windows Update error codes by component"
//! and "WUA success and error codes", the `CBS_E_*` codes of component-based
//! servicing, and the Win32 errors updates fail with (0x80070643, …).
//! A code not listed is shown as hex alone.

/// The symbolic name of `hresult`, when it is one Windows Update reports often.
pub fn name(hresult: u32) -> Option<&'static str> {
    TABLE
        .binary_search_by_key(&hresult, |(code, _)| *code)
        .ok()
        .map(|i| TABLE[i].1)
}

/// Sorted by code, so that `name` can search it.
const TABLE: &[(u32, &str)] = &[
    (0x0024_0001, "WU_S_SERVICE_STOP"),
    (0x0024_0005, "WU_S_REBOOT_REQUIRED"),
    (0x0024_0006, "WU_S_ALREADY_INSTALLED"),
    (0x8007_0002, "ERROR_FILE_NOT_FOUND"),
    (0x8007_0005, "E_ACCESSDENIED"),
    (0x8007_000E, "E_OUTOFMEMORY"),
    (0x8007_0070, "ERROR_DISK_FULL"),
    (0x8007_0422, "ERROR_SERVICE_DISABLED"),
    (0x8007_05B4, "ERROR_TIMEOUT"),
    (0x8007_0643, "ERROR_INSTALL_FAILURE"),
    (0x8007_0652, "ERROR_INSTALL_ALREADY_RUNNING"),
    (0x8007_0BC2, "ERROR_SUCCESS_REBOOT_REQUIRED"),
    (0x8007_0BC9, "ERROR_FAIL_REBOOT_REQUIRED"),
    (0x8007_2EE2, "ERROR_INTERNET_TIMEOUT"),
    (0x8007_2EE7, "ERROR_INTERNET_NAME_NOT_RESOLVED"),
    (0x8007_2EFD, "ERROR_INTERNET_CANNOT_CONNECT"),
    (0x8007_2EFE, "ERROR_INTERNET_CONNECTION_ABORTED"),
    (0x8007_2F8F, "ERROR_INTERNET_SECURE_FAILURE"),
    (0x8007_3712, "ERROR_SXS_COMPONENT_STORE_CORRUPT"),
    (0x800B_0109, "CERT_E_UNTRUSTEDROOT"),
    (0x800F_081F, "CBS_E_SOURCE_MISSING"),
    (0x800F_0821, "CBS_E_ABORT"),
    (0x800F_0823, "CBS_E_NEW_SERVICING_STACK_REQUIRED"),
    (0x800F_0825, "CBS_E_CANNOT_UNINSTALL"),
    (0x800F_0831, "CBS_E_STORE_CORRUPTION"),
    (0x800F_0900, "CBS_E_XML_PARSER_FAILURE"),
    (0x800F_0906, "CBS_E_DOWNLOAD_FAILURE"),
    (0x800F_0907, "CBS_E_GROUPPOLICY_DISALLOWED"),
    (0x800F_0920, "CBS_E_HANG_DETECTED"),
    (0x800F_0922, "CBS_E_INSTALLERS_FAILED"),
    (0x800F_0988, "PSFX_E_INVALID_DELTA_COMBINATION"),
    (0x8024_0001, "WU_E_NO_SERVICE"),
    (0x8024_0009, "WU_E_OPERATIONINPROGRESS"),
    (0x8024_000B, "WU_E_CALL_CANCELLED"),
    (0x8024_000E, "WU_E_XML_INVALID"),
    (0x8024_0016, "WU_E_INSTALL_NOT_ALLOWED"),
    (0x8024_0017, "WU_E_NOT_APPLICABLE"),
    (0x8024_001E, "WU_E_SERVICE_STOP"),
    (0x8024_0020, "WU_E_NO_INTERACTIVE_USER"),
    (0x8024_0022, "WU_E_ALL_UPDATES_FAILED"),
    (0x8024_0024, "WU_E_NO_UPDATE"),
    (0x8024_002E, "WU_E_WU_DISABLED"),
    (0x8024_0032, "WU_E_INVALID_CRITERIA"),
    (0x8024_0438, "WU_E_PT_ENDPOINT_UNREACHABLE"),
    (0x8024_0FFF, "WU_E_UNEXPECTED"),
    (0x8024_1001, "WU_E_MSI_WRONG_VERSION"),
    (0x8024_2006, "WU_E_UH_INVALIDMETADATA"),
    (0x8024_200B, "WU_E_UH_INSTALLERFAILURE"),
    (0x8024_200D, "WU_E_UH_NEEDANOTHERDOWNLOAD"),
    (0x8024_2014, "WU_E_UH_POSTREBOOTSTILLPENDING"),
    (0x8024_2016, "WU_E_UH_POSTREBOOTUNEXPECTEDSTATE"),
    (0x8024_4010, "WU_E_PT_EXCEEDED_MAX_SERVER_TRIPS"),
    (0x8024_4018, "WU_E_PT_HTTP_STATUS_FORBIDDEN"),
    (0x8024_4019, "WU_E_PT_HTTP_STATUS_NOT_FOUND"),
    (0x8024_401B, "WU_E_PT_HTTP_STATUS_PROXY_AUTH_REQ"),
    (0x8024_401C, "WU_E_PT_HTTP_STATUS_REQUEST_TIMEOUT"),
    (0x8024_401F, "WU_E_PT_HTTP_STATUS_SERVER_ERROR"),
    (0x8024_4022, "WU_E_PT_HTTP_STATUS_SERVICE_UNAVAIL"),
    (0x8024_402C, "WU_E_PT_WINHTTP_NAME_NOT_RESOLVED"),
    (0x8024_402F, "WU_E_PT_ECP_SUCCEEDED_WITH_ERRORS"),
    (0x8024_6007, "WU_E_DM_NOTDOWNLOADED"),
    (0x8024_6008, "WU_E_DM_FAILTOCONNECTTOBITS"),
    (0x8024_A10A, "USO_E_SERVICE_SHUTTING_DOWN"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_names_the_common_codes() {
        assert!(
            TABLE.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, no duplicates"
        );
        assert_eq!(name(0x8024_0022), Some("WU_E_ALL_UPDATES_FAILED"));
        assert_eq!(name(0x8007_0643), Some("ERROR_INSTALL_FAILURE"));
        assert_eq!(name(0x800F_0922), Some("CBS_E_INSTALLERS_FAILED"));
        assert_eq!(name(0x8BAD_F00D), None);
    }
}
