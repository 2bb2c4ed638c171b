//! What to do about a TLS failure, for the S3 and HTTP kinds alike: rustls says
//! `invalid peer certificate: UnknownIssuer`; the operator needs to hear which knob fixes it.

/// A hint when `detail` (an error and its causes, as text) is a certificate problem. Such an
/// error is permanent: retrying cannot make a certificate trusted.
pub fn tls_hint(detail: &str) -> Option<&'static str> {
    let problem = [
        (
            "UnknownIssuer",
            "the server's certificate is signed by a CA this machine does not trust: give the CA certificate as `ca_file` on the connection (or, for a drill, `insecure: true`, which plan shows)",
        ),
        (
            "NotValidForName",
            "the server's certificate is not valid for the host in the connection's URL: use the name the certificate was issued for",
        ),
        (
            "Expired",
            "the server's certificate has expired: renew it (or, for a drill, `insecure: true`, which plan shows)",
        ),
        (
            "invalid peer certificate",
            "the server's certificate was refused: check `ca_file` on the connection",
        ),
    ];
    problem
        .iter()
        .find(|(needle, _)| detail.contains(needle))
        .map(|(_, hint)| *hint)
}

#[cfg(test)]
mod tests {
    use super::tls_hint;

    #[test]
    fn certificate_errors_get_the_knob_that_fixes_them() {
        let hint =
            tls_hint("TLS handshake failed: invalid peer certificate: UnknownIssuer").unwrap();
        assert!(hint.contains("ca_file"));
        assert!(tls_hint("connection refused").is_none());
    }
}
