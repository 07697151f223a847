//! `application/x-www-form-urlencoded` bodies as Twilio sends them: ordered, with repeated names kept.

use std::borrow::Cow;

/// The decoded parameters of a form body, in the order they arrived. Repeated names are kept (Twilio sends
/// arrays as repeated names), `+` is a space and `%XX` escapes are decoded as UTF-8 (invalid sequences become
/// U+FFFD, which then fails signature verification rather than panicking).
///
/// ```
/// use callbook_telephony::form::FormParams;
/// let p = FormParams::parse(b"From=%2B14155551234&Body=Hello+world&Digits=1&Digits=2");
/// assert_eq!(p.get("From"), Some("+14155551234"));
/// assert_eq!(p.get("Body"), Some("Hello world"));
/// assert_eq!(p.get_all("Digits").collect::<Vec<_>>(), ["1", "2"]);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FormParams {
    pairs: Vec<(String, String)>,
}

impl FormParams {
    /// No parameters (usable in a `static`).
    pub const fn empty() -> Self {
        Self { pairs: Vec::new() }
    }

    /// Decodes a raw form body. Never fails: any byte string is some (possibly empty) list of pairs.
    pub fn parse(body: &[u8]) -> Self {
        let pairs = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Self { pairs }
    }

    /// Builds parameters from decoded pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self {
            pairs: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }

    /// The first value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in arrival order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All pairs, in arrival order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Appends a pair.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.pairs.push((name.into(), value.into()));
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Encodes the pairs as a form body (the inverse of [`FormParams::parse`]).
    pub fn encode(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            s.append_pair(k, v);
        }
        s.finish()
    }
}

/// Values can be personal data (phone numbers, names): `Debug` shows the names only.
impl std::fmt::Debug for FormParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.pairs.iter().map(|(k, _)| k)).finish()
    }
}

/// The value of query parameter `name` in `url` (percent-decoded), if present.
pub(crate) fn query_param<'a>(url: &'a str, name: &str) -> Option<Cow<'a, str>> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent_and_keeps_order_and_repeats() {
        let p = FormParams::parse(b"b=2&a=x+y&a=%C3%B1&empty=&novalue");
        assert_eq!(
            p.pairs(),
            &[
                ("b".into(), "2".into()),
                ("a".into(), "x y".into()),
                ("a".into(), "ñ".into()),
                ("empty".into(), String::new()),
                ("novalue".into(), String::new()),
            ]
        );
    }

    #[test]
    fn encode_round_trips() {
        let p = FormParams::from_pairs([("From", "+1 (415) 867-5309"), ("Body", "a&b=c ñ")]);
        assert_eq!(FormParams::parse(p.encode().as_bytes()), p);
    }

    #[test]
    fn debug_hides_values() {
        let p = FormParams::from_pairs([("From", "+14155551234")]);
        assert!(!format!("{p:?}").contains("4155551234"));
    }

    #[test]
    fn query_param_reads_decoded_values() {
        assert_eq!(
            query_param("https://x/p?a=1&bodySHA256=ab%63#frag", "bodySHA256").as_deref(),
            Some("abc")
        );
        assert_eq!(query_param("https://x/p", "a"), None);
    }
}
