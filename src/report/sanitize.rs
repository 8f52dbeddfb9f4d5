//! Untrusted strings (subjects, SANs, banners from a remote peer) are escaped before they
//! reach a terminal: control, bidi and zero-width characters become visible escapes.

/// Escape a string that came from a certificate or a peer for terminal output.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_dangerous(c) {
            let cp = c as u32;
            if cp <= 0xff {
                out.push_str(&format!("\\x{cp:02x}"));
            } else {
                out.push_str(&format!("\\u{{{cp:04x}}}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' // zero-width, LRM/RLM
            | '\u{202a}'..='\u{202e}' // bidi embeddings/overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{feff}' // BOM / ZWNBSP
            | '\u{061c}' // Arabic letter mark
        )
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn escapes_controls_and_bidi() {
        assert_eq!(sanitize("a\x1b[31mb"), "a\\x1b[31mb");
        assert_eq!(sanitize("evil\u{202e}moc.x"), "evil\\u{202e}moc.x");
        assert_eq!(sanitize("zero\u{200b}width"), "zero\\u{200b}width");
        assert_eq!(sanitize("Zürich – ok"), "Zürich – ok");
        assert_eq!(sanitize("line\nbreak"), "line\\x0abreak");
    }
}
