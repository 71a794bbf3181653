//! `file` given as an http(s) URL (spec §3.3 rule 2, step F1): the server downloads it.
//!
//! SSRF-safe by default: only public addresses are fetched.
//!
//! - A host name is resolved by [`GuardedResolver`], which drops every address that is not
//!   public (or allow-listed). The connection can only go to the addresses that passed, so a
//!   name that resolves differently on a second lookup (DNS rebinding) gains nothing.
//! - A literal address (`http://10.0.0.1/`, `http://[::1]/`, `http://2130706433/`) never
//!   reaches a resolver; it is checked before the request is sent.
//! - Redirects are followed here, one hop at a time, and every target goes through the same
//!   checks (scheme, user info, literal address, resolver).
//! - No proxy is used (a proxy would resolve the name itself).
//!
//! The response headers must arrive within `fetch.header_timeout_secs` (the whole redirect
//! chain); the body is streamed into the same [`super::intake`] sink as an uploaded file, so the
//! size limits and the blob write are identical, under an idle timeout.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use reqwest::Url;

use super::sink::{self, ReceivedFile};
use crate::config::{FetchConfig, Limits};
use crate::error::AppError;
use crate::store::blob::BlobStore;

/// Longest accepted URL, in bytes; a longer `file` text is an invalid file.
pub const MAX_URL_BYTES: usize = 2048;

/// `10.0.0.0/8`, `fd00::/8`, or a bare address (`/32`, `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let net: IpAddr = addr.trim().parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Cidr { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let prefix = usize::from(prefix);
    let (whole, rest) = (prefix / 8, prefix % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[whole] & mask) == (b[whole] & mask)
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// The operator's exceptions to the public-only rule (`fetch.allow`).
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    ranges: Vec<Cidr>,
    /// Lower-case, without a trailing dot.
    hosts: Vec<String>,
}

impl AllowList {
    pub fn parse(entries: &[String]) -> anyhow::Result<AllowList> {
        let mut list = AllowList::default();
        for entry in entries {
            let entry = entry.trim();
            if let Some(cidr) = Cidr::parse(entry) {
                list.ranges.push(cidr);
                continue;
            }
            if entry.contains('/') || entry.contains(':') {
                bail!("{entry:?} is not a CIDR");
            }
            let host = entry.trim_end_matches('.').to_ascii_lowercase();
            let valid = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !valid {
                bail!("{entry:?} is neither a CIDR nor a host name");
            }
            list.hosts.push(host);
        }
        Ok(list)
    }

    fn allows_ip(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|r| r.contains(ip))
    }

    fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Whether a connection to `ip` (an address `host` resolved to) may be made.
    fn permits(&self, host: Option<&str>, ip: IpAddr) -> bool {
        is_public(ip) || self.allows_ip(ip) || host.is_some_and(|h| self.allows_host(h))
    }
}

/// Whether `ip` is an ordinary public unicast address. Everything else — loopback, private,
/// link-local, CGNAT, multicast, broadcast, unspecified, documentation, benchmarking and
/// reserved ranges, and IPv6 forms that embed such an IPv4 address — is refused unless
/// allow-listed.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network", 0.0.0.0 included
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast 224/4, reserved 240/4, broadcast
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d): the IPv4 address decides.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    // 6to4 (2002:a.b.c.d::/48): the embedded IPv4 address decides.
    if s[0] == 0x2002 {
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    // Only global unicast (2000::/3) is public; this also refuses ::, ::1, IPv4-compatible
    // ::a.b.c.d, fc00::/7, fe80::/10, fec0::/10, ff00::/8, 100::/64 and 64:ff9b:1::/48.
    if s[0] & 0xe000 != 0x2000 {
        return false;
    }
    // 2001::/23: IETF protocol assignments (Teredo, ORCHID, ...); 2001:db8::/32 and
    // 3fff::/20: documentation.
    let ietf = s[0] == 0x2001 && s[1] < 0x0200;
    let documentation = (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] == 0x3fff && s[1] < 0x1000);
    !ietf && !documentation
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// Why a URL is not fetched; logged, never sent to the client (who gets spec F1's message).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(&'static str);

/// Resolves a host name and keeps only the addresses that may be connected to. reqwest
/// connects to exactly the addresses returned here, so the check and the connection cannot
/// disagree. It runs for every host of a redirect chain.
struct GuardedResolver {
    allow: Arc<AllowList>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = Arc::clone(&self.allow);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let passed: Vec<SocketAddr> = resolved
                .filter(|addr| allow.permits(Some(&host), addr.ip()))
                .collect();
            if passed.is_empty() {
                return Err(Box::new(Refused("the host resolves to no public address"))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(passed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Downloads `file` URLs; one per server (it holds the connection pool).
pub struct Fetcher {
    client: reqwest::Client,
    allow: Arc<AllowList>,
    header_timeout: Duration,
    idle_timeout: Duration,
    max_redirects: usize,
}

impl Fetcher {
    pub fn new(config: &FetchConfig) -> anyhow::Result<Fetcher> {
        let allow = Arc::new(AllowList::parse(&config.allow).context("fetch.allow")?);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                allow: Arc::clone(&allow),
            }))
            .connect_timeout(config.header_timeout())
            .user_agent(concat!("Folio/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the URL fetch client")?;
        Ok(Fetcher {
            client,
            allow,
            header_timeout: config.header_timeout(),
            idle_timeout: config.idle_timeout(),
            max_redirects: config.max_redirects,
        })
    }

    /// Downloads `url` into the blob `key` under the size limits of `limits`.
    pub async fn fetch(
        &self,
        url: &str,
        blobs: &BlobStore,
        key: &str,
        limits: &Limits,
        file_name_hint: &str,
    ) -> Result<ReceivedFile, AppError> {
        let mut url = Url::parse(url.trim()).map_err(|_| refused("not a URL"))?;
        let deadline = tokio::time::Instant::now() + self.header_timeout;
        let mut redirects = 0;
        let response = loop {
            self.check(&url)?;
            let sent = tokio::time::timeout_at(deadline, self.client.get(url.clone()).send())
                .await
                .map_err(|_| refused("no response headers in time"))?;
            let response = sent.map_err(|e| {
                tracing::info!(fetch.host = url.host_str().unwrap_or_default(), error = %error_chain(&e), "URL fetch failed");
                AppError::InvalidFile("the URL could not be fetched")
            })?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| refused("a redirect without a usable Location"))?;
                if redirects >= self.max_redirects {
                    return Err(refused("too many redirects"));
                }
                redirects += 1;
                url = url
                    .join(location)
                    .map_err(|_| refused("a redirect to an invalid URL"))?;
                continue;
            }
            if !status.is_success() {
                return Err(refused("a status other than 2xx"));
            }
            break response;
        };

        // A declared length above every limit fails before a byte is read; a lying or absent
        // Content-Length is caught by the sink while streaming.
        let largest = limits.max_file_size.max(limits.max_video_size);
        if response.content_length().is_some_and(|n| n > largest) {
            return Err(AppError::FileTooLarge);
        }
        let body = idle_limited(response, self.idle_timeout);
        let file = sink::receive_stream(body, blobs, key, limits, file_name_hint).await?;
        if file.size == 0 {
            return Err(refused("empty content"));
        }
        Ok(file)
    }

    /// The SSRF-guarded client for a request-supplied URL other than `file` (a `webhookUrl`):
    /// the URL passes the same checks as a `file` URL, and the connection goes only to
    /// addresses the resolver lets through. It follows no redirects.
    pub fn guarded_client(&self, url: &Url) -> Result<&reqwest::Client, AppError> {
        self.check(url)?;
        Ok(&self.client)
    }

    /// What can be decided from the URL alone: scheme, user info, a literal address.
    fn check(&self, url: &Url) -> Result<(), AppError> {
        match self.problem(url) {
            Some(reason) => Err(refused(reason)),
            None => Ok(()),
        }
    }

    fn problem(&self, url: &Url) -> Option<&'static str> {
        if !matches!(url.scheme(), "http" | "https") {
            return Some("a scheme other than http or https");
        }
        // `http://trusted.example@evil.example/` misleads readers of logs and allow-lists, and
        // credentials have no business in a stored upload request.
        if !url.username().is_empty() || url.password().is_some() {
            return Some("user info in the URL");
        }
        let Some(host) = url.host_str() else {
            return Some("no host");
        };
        // The URL parser has already normalised literal addresses (`http://0x7f.1/` is
        // 127.0.0.1); IPv6 ones keep their brackets.
        let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
        let Ok(ip) = literal.unwrap_or(host).parse::<IpAddr>() else {
            return None; // a host name: the resolver decides
        };
        (!self.allow.permits(None, ip)).then_some("a non-public address")
    }

    /// Whether a destination kept for later calls (a webhook endpoint) may be called: the URL
    /// rules of [`Self::guarded_client`], and a host name must resolve now to at least one
    /// address the client would connect to. The reason when not.
    pub async fn check_destination(&self, url: &Url) -> Result<(), &'static str> {
        if let Some(reason) = self.problem(url) {
            return Err(reason);
        }
        let Some(host) = url.host_str() else {
            return Err("no host");
        };
        if host.starts_with('[') || host.parse::<IpAddr>().is_ok() {
            return Ok(());
        }
        let resolved = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|_| "a host name that does not resolve")?;
        let mut any = false;
        for addr in resolved {
            any = true;
            if self.allow.permits(Some(host), addr.ip()) {
                return Ok(());
            }
        }
        Err(if any {
            "a host that resolves to no public address"
        } else {
            "a host name that does not resolve"
        })
    }
}

fn refused(reason: &'static str) -> AppError {
    tracing::info!(reason, "file URL refused");
    AppError::InvalidFile(reason)
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// The response body as a stream that fails when nothing arrives for `idle`.
fn idle_limited(
    response: reqwest::Response,
    idle: Duration,
) -> impl futures_util::Stream<Item = Result<Bytes, AppError>> + Send {
    futures_util::stream::unfold(Some(response), move |state| async move {
        let mut response = state?;
        match tokio::time::timeout(idle, response.chunk()).await {
            Ok(Ok(Some(bytes))) => Some((Ok(bytes), Some(response))),
            Ok(Ok(None)) => None,
            Ok(Err(_)) => Some((Err(AppError::InvalidFile("the download failed")), None)),
            Err(_) => Some((Err(AppError::InvalidFile("the download stalled")), None)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().expect("address"))
    }

    #[test]
    fn ipv4_special_ranges_are_refused() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.0.1",
            "169.254.169.254",
            "169.254.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!public(ip), "{ip} must be refused");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.169.0.1",
            "93.184.216.34",
            "223.255.255.254",
        ] {
            assert!(public(ip), "{ip} is public");
        }
    }

    #[test]
    fn ipv6_special_ranges_are_refused() {
        for ip in [
            "::",
            "::1",
            "::127.0.0.1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "100::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
            "64:ff9b:1::1",
        ] {
            assert!(!public(ip), "{ip} must be refused");
        }
        for ip in [
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "2400:cb00::1",
        ] {
            assert!(public(ip), "{ip} is public");
        }
    }

    #[test]
    fn embedded_ipv4_addresses_decide() {
        for ip in [
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:0.0.0.0",
            "64:ff9b::10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:a00:1::1",
            "2002:7f00:1::",
        ] {
            assert!(!public(ip), "{ip} must be refused");
        }
        for ip in ["::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1"] {
            assert!(public(ip), "{ip} is public");
        }
    }

    #[test]
    fn cidrs_parse_and_match() {
        let net = Cidr::parse("10.1.0.0/16").expect("cidr");
        assert!(net.contains("10.1.200.3".parse().expect("ip")));
        assert!(!net.contains("10.2.0.1".parse().expect("ip")));
        assert!(
            net.contains("::ffff:10.1.0.9".parse().expect("ip")),
            "mapped form"
        );
        let one = Cidr::parse("127.0.0.2").expect("bare address");
        assert!(one.contains("127.0.0.2".parse().expect("ip")));
        assert!(!one.contains("127.0.0.1".parse().expect("ip")));
        let odd = Cidr::parse("172.16.0.0/12").expect("cidr");
        assert!(odd.contains("172.31.1.1".parse().expect("ip")));
        assert!(!odd.contains("172.32.0.1".parse().expect("ip")));
        let v6 = Cidr::parse("fd00::/8").expect("cidr");
        assert!(v6.contains("fd12::1".parse().expect("ip")));
        assert!(!v6.contains("fe80::1".parse().expect("ip")));
        assert!(Cidr::parse("0.0.0.0/0")
            .expect("everything")
            .contains("8.8.8.8".parse().expect("ip")));
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("::/129"), None);
        assert_eq!(Cidr::parse("files.internal"), None);
    }

    #[test]
    fn allow_lists_take_cidrs_and_host_names() {
        let list = AllowList::parse(&["127.0.0.1/32".to_owned(), "Files.Internal.".to_owned()])
            .expect("list");
        let lo: IpAddr = "127.0.0.1".parse().expect("ip");
        let private: IpAddr = "10.0.0.7".parse().expect("ip");
        assert!(list.permits(None, lo));
        assert!(!list.permits(None, private));
        assert!(list.permits(Some("files.internal"), private));
        assert!(!list.permits(Some("other.internal"), private));
        assert!(AllowList::parse(&["10.0.0.0/40".to_owned()]).is_err());
        assert!(AllowList::parse(&["not a host".to_owned()]).is_err());
    }

    #[test]
    fn urls_are_checked_before_any_connection() {
        let fetcher = Fetcher::new(&FetchConfig::default()).expect("fetcher");
        let check = |u: &str| fetcher.check(&Url::parse(u).expect("url")).is_ok();
        assert!(check("https://media.example.com/a.jpg"));
        assert!(check("http://93.184.216.34/a.jpg"));
        assert!(!check("ftp://media.example.com/a.jpg"));
        assert!(!check("file:///etc/passwd"));
        assert!(!check("http://user:pw@media.example.com/a.jpg"));
        assert!(!check("http://media.example.com@10.0.0.1/a.jpg"));
        assert!(!check("http://10.0.0.1/"));
        assert!(!check("http://169.254.169.254/latest/meta-data/"));
        assert!(!check("http://[::1]:8080/"));
        assert!(!check("http://[::ffff:127.0.0.1]/"));
        // WHATWG parsing turns these into 127.0.0.1.
        assert!(!check("http://2130706433/"));
        assert!(!check("http://0x7f.1/"));
        assert!(!check("http://127.1/"));
    }
}
