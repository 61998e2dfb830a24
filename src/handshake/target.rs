//! What an opening request may name: its request target and its `Host`.
//!
//! RFC 6455 §4.1 has a client send the resource as an origin-form target
//! (`/path?query`) and the host in `Host`; RFC 9112 §3.2.2 has a server accept
//! the absolute-form (`ws://host/path`) too, take the host from it and ignore
//! `Host`. Anything else (`*`, authority-form, a bare word) names no resource
//! and is refused with 400, as is a `Host` that is missing, repeated or not a
//! host and port. What passes here always makes a valid `ws:` URL, so no host
//! ever has to cope with a request it cannot name.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Splits a request target into the authority it names (only the
/// absolute-form names one) and its origin-form: path and query. `None` if
/// it is neither form.
pub fn split_target(target: &str) -> Option<(Option<&str>, String)> {
    if target.starts_with('/') {
        return is_origin_form(target).then(|| (None, target.to_owned()));
    }
    // RFC 9112 §3.2.2: scheme "://" authority path-abempty [ "?" query ].
    let web = ["ws://", "wss://", "http://", "https://"];
    let scheme = web.iter().find(|s| {
        let n = s.len();
        target.len() >= n && target.as_bytes()[..n].eq_ignore_ascii_case(s.as_bytes())
    })?;
    let rest = &target[scheme.len()..];
    let end = rest.bytes().position(|b| b == b'/' || b == b'?');
    let (authority, tail) = rest.split_at(end.unwrap_or(rest.len()));
    let mut path = String::with_capacity(tail.len() + 1);
    if !tail.starts_with('/') {
        path.push('/');
    }
    path.push_str(tail);
    (is_host(authority) && is_origin_form(&path)).then_some((Some(authority), path))
}

/// An origin-form target: `/`, then visible ASCII, no fragment. Wider than
/// RFC 3986's `pchar` on purpose: browsers send `|`, `^`, `[`, `]` and `\`
/// as they are (the WHATWG URL path percent-encode set leaves them alone).
fn is_origin_form(target: &str) -> bool {
    target.starts_with('/')
        && target
            .bytes()
            .all(|b| (0x21..=0x7E).contains(&b) && b != b'#')
}

/// A `Host` value (RFC 9110 §7.2): a host and an optional port of at most
/// 65535. The host is a bracketed IPv6 address, a dotted IPv4 address or a
/// name of letters, digits, `-`, `.`, `_` and `~` that does not end in a
/// number unless it is an IPv4 address (so that a URL parser, which reads
/// such a name as an address, takes it as this one does). Stricter than
/// RFC 3986's `reg-name`, whose percent-escapes and sub-delimiters no DNS
/// name needs.
pub fn is_host(value: &str) -> bool {
    let (host, port) = match value.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, Some(p)),
        _ => (value, None),
    };
    let port_ok = port.is_none_or(|p| {
        p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().map_or(p.is_empty(), |n| n <= 65535)
    });
    port_ok && is_host_name(host)
}

fn is_host_name(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[') {
        return inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<Ipv6Addr>().is_ok());
    }
    let name_chars = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    if host.is_empty() || !host.bytes().all(name_chars) {
        return false;
    }
    let last = host.strip_suffix('.').unwrap_or(host);
    let last = last.rsplit('.').next().unwrap_or_default();
    let hex = last.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("0x"))
        && last[2..].bytes().all(|b| b.is_ascii_hexdigit());
    let numeric = !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit());
    if numeric || hex {
        return host
            .strip_suffix('.')
            .unwrap_or(host)
            .parse::<Ipv4Addr>()
            .is_ok();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_form_is_kept_as_sent() {
        for t in [
            "/",
            "/chat",
            "/a/b?x=1&y=%20",
            "/a|b^[c]\\d",
            "//double",
            "/?",
        ] {
            assert_eq!(split_target(t), Some((None, t.to_owned())), "{t}");
        }
    }

    #[test]
    fn absolute_form_is_reduced_to_its_path() {
        let cases = [
            ("http://h/x", "h", "/x"),
            ("ws://h:8080/x?q=1", "h:8080", "/x?q=1"),
            ("WSS://example.com", "example.com", "/"),
            ("https://[::1]:443?q", "[::1]:443", "/?q"),
        ];
        for (t, host, path) in cases {
            assert_eq!(split_target(t), Some((Some(host), path.to_owned())), "{t}");
        }
    }

    #[test]
    fn other_targets_are_refused() {
        for t in [
            "*",
            "abc",
            "example.com:443",
            "ftp://h/x",
            "http://user@h/x",
            "http:///x",
            "http://a b/x",
            "/a#frag",
            "/é",
            "",
            "http://h/x#f",
            "http://h:99999/",
        ] {
            assert_eq!(split_target(t), None, "{t:?}");
        }
    }

    #[test]
    fn hosts() {
        for h in [
            "example.com",
            "EXAMPLE.com.",
            "a_b-c~d",
            "localhost:80",
            "x:",
            "x:65535",
            "127.0.0.1",
            "127.0.0.1:9",
            "[::1]",
            "[2001:db8::1]:443",
            "xn--mnchen-3ya.de",
            "1a.example",
        ] {
            assert!(is_host(h), "{h}");
        }
        for h in [
            "",
            "a b",
            "x:99999",
            "x:65536",
            "x:8o",
            "a,b",
            "a/b",
            "a%2fb",
            "user@h",
            "[::1",
            "[fe80::1%25eth0]",
            "[v1.x]",
            "::1",
            "a.1",
            "1.2.3.256",
            "0x1g.0x7f",
            "1.2.3",
            "h:80:80",
            "é.com",
        ] {
            assert!(!is_host(h), "{h}");
        }
    }
}
