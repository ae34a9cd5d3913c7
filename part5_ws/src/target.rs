//! The `--url`: where to connect, and whether over TLS.

use tungstenite::http::Uri;

/// A parsed `ws://` or `wss://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as given: the request line and `Host` header come from it.
    pub url: String,
    /// `wss://`.
    pub secure: bool,
    /// The host without brackets (`::1`, not `[::1]`), for resolution and
    /// the TLS server name.
    pub host: String,
    pub port: u16,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let uri: Uri = url.parse().map_err(|err| {
            format!("'{url}' is not a URL ({err}); expected ws://HOST[:PORT][/PATH]")
        })?;
        let secure = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            _ => {
                return Err(format!(
                    "'{url}' is not a WebSocket URL; expected ws://HOST[:PORT][/PATH] or wss://…"
                ));
            }
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("'{url}' has no host"))?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_string();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        Ok(Target {
            url: url.to_string(),
            secure,
            host,
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let t = Target::parse("ws://tcpip.epfl.ch:5006").unwrap();
        assert_eq!(
            (t.secure, t.host.as_str(), t.port),
            (false, "tcpip.epfl.ch", 5006)
        );
        let t = Target::parse("wss://[::1]:7000/pmu").unwrap();
        assert_eq!((t.secure, t.host.as_str(), t.port), (true, "::1", 7000));
        assert_eq!(Target::parse("ws://localhost").unwrap().port, 80);
        assert_eq!(Target::parse("wss://localhost/").unwrap().port, 443);
    }

    #[test]
    fn other_urls_are_refused() {
        for bad in [
            "http://localhost:5006",
            "tcpip.epfl.ch:5006",
            "ws://",
            "",
            "ws://a b",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
