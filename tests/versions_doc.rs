//! `docs/RUNTIME-VERSIONS.md` carries the table of every version rule; it must be the
//! rows of `src/profiles/` exactly (a rule added without its line in the docs fails here).

#[test]
fn runtime_versions_doc_matches_the_profile_rows() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/RUNTIME-VERSIONS.md");
    let doc = std::fs::read_to_string(&path).expect("docs/RUNTIME-VERSIONS.md");
    let (begin, end) = ("<!-- rows:begin -->\n", "<!-- rows:end -->");
    let a = doc.find(begin).expect("rows:begin marker") + begin.len();
    let b = doc.find(end).expect("rows:end marker");
    let want = tlsdoctor::profiles::docs_table();
    assert!(
        doc[a..b] == want,
        "docs/RUNTIME-VERSIONS.md is out of date; the table between the markers must be:\n{want}"
    );
    // Every rule of the closed vocabulary has a row.
    let rules: std::collections::BTreeSet<String> = tlsdoctor::profiles::all_rows()
        .map(|r| format!("{:?}", r.rule))
        .collect();
    for r in [
        "GoVerifyErrorPrefix",
        "GoNegativeSerialRejected",
        "GoRsaMin1024",
        "GoSha1OverrideHint",
        "GoBareWildcardInvalid",
        "PyX509Strict",
        "PyPartialChain",
        "PySslLine",
        "NodeSystemStore",
        "NodeSecurityLevel",
        "CurlHostnameOneWord",
    ] {
        assert!(rules.contains(r), "no row for {r}");
    }
}
