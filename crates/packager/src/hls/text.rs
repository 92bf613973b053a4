//! Playlist text primitives: string validation (rfc8216bis §4.1, §4.2) and
//! an attribute-list writer.

use std::fmt::{self, Write as _};

use super::time::MediaDuration;
use super::HlsError;

fn invalid(what: &'static str, value: &str, reason: &'static str) -> HlsError {
    HlsError::InvalidString {
        what,
        value: value.to_owned(),
        reason,
    }
}

/// A quoted-string value: non-empty, no `"`, and no control characters
/// (CR and LF included; U+0000–U+001F and U+007F–U+009F are banned from
/// playlists altogether, HLS-PL-09).
pub(crate) fn check_quoted(what: &'static str, value: &str) -> Result<(), HlsError> {
    if value.is_empty() {
        return Err(invalid(what, value, "empty"));
    }
    if value.contains('"') {
        return Err(invalid(what, value, "contains a double quote"));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(what, value, "contains a control character"));
    }
    Ok(())
}

/// A URI, in a URI line or a quoted URI attribute: a valid quoted-string
/// with no whitespace (RFC 3986 has none; a space must be `%20`), that does
/// not start with `#` (it would read as a comment) and that is relative to
/// the playlist: no scheme and no leading `/`.
///
/// Relative URIs are a Weir rule, not an HLS one: playlists, init segments,
/// segments and parts of a stream sit side by side, so relative references
/// keep working behind any host, proxy or path prefix, and
/// EXT-X-RENDITION-REPORT requires them anyway (rfc8216bis §4.4.5.4).
pub(crate) fn check_uri(what: &'static str, value: &str) -> Result<(), HlsError> {
    check_quoted(what, value)?;
    if value.chars().any(char::is_whitespace) {
        return Err(invalid(what, value, "contains whitespace"));
    }
    if value.starts_with('#') {
        return Err(invalid(what, value, "starts with '#'"));
    }
    if value.starts_with('/') || has_scheme(value) {
        return Err(invalid(what, value, "not a relative URI"));
    }
    Ok(())
}

/// RFC 3986 §3.1: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"` before
/// any `/`, `?` or `#`.
fn has_scheme(uri: &str) -> bool {
    let Some(colon) = uri.find(':') else {
        return false;
    };
    let scheme = uri.get(..colon).unwrap_or_default();
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// An RFC 5646 language tag as far as the playlist cares: a quoted-string
/// of ASCII letters, digits and `-`.
pub(crate) fn check_language(what: &'static str, value: &str) -> Result<(), HlsError> {
    check_quoted(what, value)?;
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(invalid(what, value, "not a language tag"));
    }
    Ok(())
}

/// Appends `line` and a line feed to `out`.
pub(crate) fn line(out: &mut String, line: fmt::Arguments<'_>) {
    // Writing into a String cannot fail.
    let _ = out.write_fmt(line);
    out.push('\n');
}

/// Writes one `#TAG:NAME=value,NAME=value` line. Attribute names are
/// `'static` literals from this module tree, so they are valid by
/// construction; values are checked where they can be invalid.
pub(crate) struct Attrs<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Attrs<'a> {
    /// Starts `#<tag>:`.
    pub(crate) fn new(out: &'a mut String, tag: &str) -> Self {
        out.push('#');
        out.push_str(tag);
        out.push(':');
        Self { out, first: true }
    }

    fn name(&mut self, name: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push_str(name);
        self.out.push('=');
    }

    /// An unquoted value whose form the caller guarantees (decimal-integer,
    /// enumerated-string, decimal-resolution, decimal-floating-point).
    pub(crate) fn raw(&mut self, name: &str, value: impl fmt::Display) -> &mut Self {
        self.name(name);
        // Writing into a String cannot fail.
        let _ = write!(self.out, "{value}");
        self
    }

    /// A duration as decimal-floating-point seconds.
    pub(crate) fn duration(&mut self, name: &str, value: MediaDuration) -> &mut Self {
        self.raw(name, value.decimal())
    }

    /// A quoted URI, checked with [`check_uri`].
    pub(crate) fn uri(&mut self, name: &'static str, value: &str) -> Result<&mut Self, HlsError> {
        check_uri(name, value)?;
        self.quoted_unchecked(name, value);
        Ok(self)
    }

    /// A quoted-string the caller has already checked.
    pub(crate) fn quoted_unchecked(&mut self, name: &str, value: &str) -> &mut Self {
        self.name(name);
        self.out.push('"');
        self.out.push_str(value);
        self.out.push('"');
        self
    }

    /// Ends the line.
    pub(crate) fn finish(&mut self) {
        self.out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_strings() {
        assert!(check_quoted("NAME", "English (AAC)").is_ok());
        assert!(check_quoted("NAME", "Ünïcode ✓").is_ok());
        for bad in ["", "a\"b", "a\nb", "a\rb", "a\tb", "a\u{7f}b", "a\u{85}b"] {
            assert!(
                matches!(
                    check_quoted("NAME", bad),
                    Err(HlsError::InvalidString { what: "NAME", .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn uris_must_be_relative_and_clean() {
        for ok in [
            "seg-1.m4s",
            "video/seg-1.m4s",
            "../audio/index.m3u8",
            "seg.m4s?token=a:b",
            "a/b:c.m4s",
            "%20x.m4s",
        ] {
            assert!(check_uri("URI", ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "https://cdn.example/seg.m4s",
            "data:abc",
            "/live/seg.m4s",
            "//cdn.example/seg.m4s",
            "#seg.m4s",
            "seg 1.m4s",
            "seg\n1.m4s",
            "seg\"1.m4s",
        ] {
            assert!(check_uri("URI", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn language_tags() {
        assert!(check_language("LANGUAGE", "en").is_ok());
        assert!(check_language("LANGUAGE", "zh-Hant-TW").is_ok());
        assert!(check_language("LANGUAGE", "en US").is_err());
        assert!(check_language("LANGUAGE", "").is_err());
    }

    #[test]
    fn attribute_lists() {
        let mut out = String::new();
        let mut attrs = Attrs::new(&mut out, "EXT-X-TEST");
        attrs.raw("A", 1).quoted_unchecked("B", "x");
        attrs.uri("URI", "y.m4s").unwrap();
        attrs
            .duration("D", MediaDuration::from_millis(1500))
            .finish();
        assert_eq!(out, "#EXT-X-TEST:A=1,B=\"x\",URI=\"y.m4s\",D=1.50000\n");
    }
}
