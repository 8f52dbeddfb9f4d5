//! Resolution (with a deadline: getaddrinfo has none, so it runs on its own thread),
//! connecting over every address in order, the HTTP CONNECT proxy (Go's
//! `ProxyFromEnvironment` rules), and [`Conn`]: a socket whose every read honours the
//! deadline and a size cap, and which never swallows bytes meant for TLS.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

use super::{Deadline, ProbeError};
use crate::diagnose::Cause;
use crate::world::World;

/// Resolve `host` to every address, in the resolver's order (RFC 6724).
pub fn resolve(host: &str, port: u16, deadline: &Deadline) -> Result<Vec<SocketAddr>, ProbeError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let wait = deadline.remaining("DNS lookup")?;
    let (tx, rx) = mpsc::channel();
    let h = host.to_string();
    // The thread is detached: if the resolver hangs past the deadline, we stop waiting.
    std::thread::Builder::new()
        .name("tlsdoctor-dns".into())
        .spawn(move || {
            let r = (h.as_str(), port)
                .to_socket_addrs()
                .map(|it| it.collect::<Vec<_>>());
            let _ = tx.send(r);
        })
        .map_err(|e| ProbeError::new(Cause::DnsFailure, format!("cannot start the resolver: {e}")))?;
    match rx.recv_timeout(wait) {
        Ok(Ok(mut addrs)) => {
            let mut seen = std::collections::HashSet::new();
            addrs.retain(|a| seen.insert(*a));
            if addrs.is_empty() {
                Err(ProbeError::new(
                    Cause::DnsFailure,
                    format!("{host} has no addresses"),
                ))
            } else {
                Ok(addrs)
            }
        }
        Ok(Err(e)) => Err(ProbeError::new(
            Cause::DnsFailure,
            format!("cannot resolve {host}: {}", dns_error_text(&e)),
        )),
        Err(_) => Err(ProbeError::new(
            Cause::Timeout,
            format!(
                "DNS lookup of {host} did not finish within the time budget ({})",
                super::fmt_duration(deadline.total())
            ),
        )),
    }
}

fn dns_error_text(e: &io::Error) -> String {
    let s = e.to_string();
    // std prefixes getaddrinfo errors with "failed to lookup address information: ".
    s.strip_prefix("failed to lookup address information: ")
        .unwrap_or(&s)
        .to_string()
}

/// Connect to each address in turn until one answers, as Go's dialer does: each attempt
/// gets an equal share of the time left, at least 2 s when that much remains.
pub fn connect_any(addrs: &[SocketAddr], deadline: &Deadline) -> Result<(TcpStream, SocketAddr), ProbeError> {
    let mut errors: Vec<(SocketAddr, io::Error)> = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let left = deadline.remaining("connect")?;
        let share = left / (addrs.len() - i) as u32;
        let per = share.max(Duration::from_secs(2)).min(left);
        match TcpStream::connect_timeout(addr, per) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok((s, *addr));
            }
            Err(e) => errors.push((*addr, e)),
        }
    }
    let all_refused = errors
        .iter()
        .all(|(_, e)| e.kind() == io::ErrorKind::ConnectionRefused);
    let timed_out = errors
        .iter()
        .any(|(_, e)| matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock));
    let detail = errors
        .iter()
        .map(|(a, e)| format!("{a}: {}", short_io(e)))
        .collect::<Vec<_>>()
        .join("; ");
    if all_refused {
        Err(ProbeError::new(
            Cause::ConnectionRefused,
            format!("connection refused ({detail}): nothing listens there"),
        ))
    } else if timed_out {
        Err(ProbeError::new(
            Cause::Timeout,
            format!("TCP connect did not complete ({detail}): a firewall may drop the packets"),
        ))
    } else {
        Err(ProbeError::new(
            Cause::ConnectionRefused,
            format!("cannot connect ({detail})"),
        ))
    }
}

pub fn short_io(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

// ---------------------------------------------------------------------------------------
// Proxy

/// An HTTP proxy to tunnel through with CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    pub host: String,
    pub port: u16,
    /// `user:password` for Basic authentication.
    pub userinfo: Option<String>,
}

impl ProxyUrl {
    /// Parse like Go's `parseProxy`: a bare `host:port` means `http://host:port`.
    pub fn parse(s: &str) -> Result<ProxyUrl, ProbeError> {
        let bad =
            |why: &str| ProbeError::new(Cause::ConnectionRefused, format!("proxy {:?}: {why}", redact(s)));
        let s = s.trim();
        let (scheme, rest) = match s.find("://") {
            Some(i) => (s[..i].to_ascii_lowercase(), &s[i + 3..]),
            None => ("http".to_string(), s),
        };
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => {
                return Err(bad(
                    "proxies reached over TLS (https://) are not supported; use an http:// proxy URL",
                ))
            }
            "socks5" | "socks5h" => return Err(bad("SOCKS proxies are not supported")),
            _ => return Err(bad("unsupported proxy scheme")),
        };
        let auth = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, hostport) = match auth.rfind('@') {
            Some(i) => (Some(auth[..i].to_string()), &auth[i + 1..]),
            None => (None, auth),
        };
        let t = super::Target::parse(hostport, super::Starttls::None).map_err(|e| bad(&format!("{e:#}")))?;
        let explicit_port = if hostport.starts_with('[') {
            hostport.contains("]:")
        } else {
            hostport.matches(':').count() == 1
        };
        let port = if explicit_port { t.port } else { default_port };
        Ok(ProxyUrl {
            host: t.host,
            port,
            userinfo: userinfo.map(percent_decode),
        })
    }

    /// The URL without credentials, for the report.
    pub fn redacted(&self) -> String {
        let hp = match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{}]:{}", self.host, self.port),
            _ => format!("{}:{}", self.host, self.port),
        };
        match &self.userinfo {
            Some(_) => format!("http://***@{hp}"),
            None => format!("http://{hp}"),
        }
    }
}

fn redact(s: &str) -> String {
    match (s.find("://"), s.rfind('@')) {
        (Some(i), Some(j)) if j > i => format!("{}***{}", &s[..i + 3], &s[j..]),
        (None, Some(j)) => format!("***{}", &s[j..]),
        _ => s.to_string(),
    }
}

fn percent_decode(s: String) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn go_env_any<'a>(world: &'a World, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| world.var_nonempty(n))
}

/// Go's `http.ProxyFromEnvironment` for an `https` request to `host:port`: HTTPS_PROXY
/// (then https_proxy), unless NO_PROXY (then no_proxy) excludes the host, and never for
/// `localhost` or a loopback address.
pub fn proxy_from_env(world: &World, host: &str, port: u16) -> Result<Option<ProxyUrl>, ProbeError> {
    let Some(proxy) = go_env_any(world, &["HTTPS_PROXY", "https_proxy"]) else {
        return Ok(None);
    };
    let no_proxy = go_env_any(world, &["NO_PROXY", "no_proxy"]).unwrap_or("");
    if !use_proxy(no_proxy, host, port) {
        return Ok(None);
    }
    ProxyUrl::parse(proxy).map(Some)
}

/// Go's `httpproxy.config.useProxy`.
pub fn use_proxy(no_proxy: &str, host: &str, port: u16) -> bool {
    let host = host.to_ascii_lowercase();
    let host = host.trim();
    if host == "localhost" {
        return false;
    }
    let ip: Option<IpAddr> = host.parse().ok();
    if ip.is_some_and(|ip| ip.is_loopback()) {
        return false;
    }
    let port = port.to_string();
    for entry in no_proxy.split(',') {
        let p = entry.trim().to_ascii_lowercase();
        if p.is_empty() {
            continue;
        }
        if p == "*" {
            return false;
        }
        if let Some((net, bits)) = parse_cidr(&p) {
            if ip.is_some_and(|ip| cidr_contains(net, bits, ip)) {
                return false;
            }
            continue;
        }
        let (mut phost, pport) = match split_host_port_go(&p) {
            Some((h, pp)) => {
                if h.is_empty() {
                    continue;
                }
                (h.trim_start_matches('[').trim_end_matches(']').to_string(), pp)
            }
            None => (p.clone(), String::new()),
        };
        if let Ok(pip) = phost.parse::<IpAddr>() {
            if ip == Some(pip) && (pport.is_empty() || pport == port) {
                return false;
            }
            continue;
        }
        if phost.is_empty() {
            continue;
        }
        if let Some(rest) = phost.strip_prefix("*.") {
            phost = format!(".{rest}");
        }
        let match_host = !phost.starts_with('.');
        if match_host {
            phost = format!(".{phost}");
        }
        if (host.ends_with(&phost) || (match_host && host == &phost[1..]))
            && (pport.is_empty() || pport == port)
        {
            return false;
        }
    }
    true
}

/// net.SplitHostPort for NO_PROXY entries: `h:p` or `[v6]:p`; None when there is no port.
fn split_host_port_go(s: &str) -> Option<(String, String)> {
    if s.starts_with('[') {
        let close = s.find(']')?;
        let rest = &s[close + 1..];
        let port = rest.strip_prefix(':')?;
        return Some((s[..=close].to_string(), port.to_string()));
    }
    let (h, p) = s.rsplit_once(':')?;
    if h.contains(':') {
        return None;
    }
    Some((h.to_string(), p.to_string()))
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (a, b) = s.split_once('/')?;
    let ip: IpAddr = a.parse().ok()?;
    let bits: u8 = b.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn cidr_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// Connect to the proxy and open a tunnel with CONNECT. Returns the tunnel, the proxy's
/// addresses and the one connected to. The proxy's answer is read byte by byte so that
/// nothing after its header is taken from TLS.
pub fn connect_via_proxy(
    proxy: &ProxyUrl,
    host: &str,
    port: u16,
    deadline: &Deadline,
) -> Result<(TcpStream, Vec<SocketAddr>, SocketAddr), ProbeError> {
    let addrs = resolve(&proxy.host, proxy.port, deadline).map_err(|mut e| {
        e.message = format!("proxy {}: {}", proxy.redacted(), e.message);
        e
    })?;
    let (stream, addr) = connect_any(&addrs, deadline).map_err(|mut e| {
        e.message = format!("proxy {}: {}", proxy.redacted(), e.message);
        e
    })?;
    let authority = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("[{host}]:{port}"),
        _ => format!("{host}:{port}"),
    };
    let mut req = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(ui) = &proxy.userinfo {
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD.encode(ui.as_bytes());
        req.push_str(&format!("Proxy-Authorization: Basic {b}\r\n"));
    }
    req.push_str("\r\n");
    let mut conn = Conn::new(stream, *deadline);
    conn.write_all(req.as_bytes())
        .map_err(|e| conn.io_error(&e, "proxy CONNECT"))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n\n") {
        if head.len() >= 16 * 1024 {
            return Err(ProbeError::new(
                Cause::HandshakeFailure,
                format!("proxy {}: answer to CONNECT exceeds 16 KiB", proxy.redacted()),
            ));
        }
        match conn.read(&mut byte) {
            Ok(0) => {
                return Err(ProbeError::new(
                    Cause::HandshakeFailure,
                    format!("proxy {} closed the connection during CONNECT", proxy.redacted()),
                ))
            }
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(conn.io_error(&e, "proxy CONNECT")),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or_default().trim().to_string();
    let code = status_line.split_whitespace().nth(1).unwrap_or_default();
    if !code.starts_with('2') {
        let why = if code == "407" {
            " (proxy authentication required: put credentials in the proxy URL)"
        } else {
            ""
        };
        return Err(ProbeError::new(
            Cause::ConnectionRefused,
            format!(
                "proxy {} refused CONNECT {authority}: {}{why}",
                proxy.redacted(),
                crate::report::sanitize::sanitize(&status_line)
            ),
        ));
    }
    Ok((conn.into_stream(), addrs, addr))
}

// ---------------------------------------------------------------------------------------
// Conn

/// Bytes kept of what the peer sent, for sniffing.
const CAPTURE: usize = 1024;
/// Most bytes read from a peer in one probe.
pub const READ_CAP: usize = 1024 * 1024;

/// A TCP stream under the probe's deadline. Reads are capped; the first bytes of each phase
/// are kept for sniffing; the dialogue reads into `pending`, and whatever is left there
/// when TLS starts is reported, not handed to TLS.
pub struct Conn {
    stream: TcpStream,
    deadline: Deadline,
    pending: Vec<u8>,
    captured: Vec<u8>,
    total_read: usize,
    cap: usize,
    /// For dialogues where the server speaks first: how long to wait for its first byte.
    first_byte: Option<(std::time::Instant, Duration)>,
}

impl Conn {
    pub fn new(stream: TcpStream, deadline: Deadline) -> Conn {
        Conn {
            stream,
            deadline,
            pending: Vec::new(),
            captured: Vec::new(),
            total_read: 0,
            cap: READ_CAP,
            first_byte: None,
        }
    }

    /// Wait at most `wait` (within the deadline) for the server's first byte: a server
    /// that waits for the client instead (TLS from the first byte) is then told apart
    /// quickly from a slow one.
    /// The first byte must arrive within `wait`; a timeout message says `shown`.
    pub fn expect_greeting_within(&mut self, wait: Duration, shown: Duration) {
        self.first_byte = Some((std::time::Instant::now() + wait, shown));
    }

    pub fn into_stream(self) -> TcpStream {
        self.stream
    }

    pub fn deadline(&self) -> &Deadline {
        &self.deadline
    }

    /// The first bytes received in the current phase.
    pub fn captured(&self) -> &[u8] {
        &self.captured
    }

    pub fn captured_nonempty(&self) -> Option<&[u8]> {
        (!self.captured.is_empty()).then_some(self.captured.as_slice())
    }

    pub fn total_read(&self) -> usize {
        self.total_read
    }

    /// Map an I/O error to a cause.
    pub fn io_error(&self, e: &io::Error, step: &str) -> ProbeError {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => self.deadline.expired(step),
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe => {
                ProbeError::new(
                    Cause::HandshakeFailure,
                    format!("{step}: the peer reset the connection"),
                )
            }
            io::ErrorKind::UnexpectedEof => ProbeError::new(
                Cause::HandshakeFailure,
                format!("{step}: the peer closed the connection"),
            ),
            io::ErrorKind::FileTooLarge => ProbeError::new(
                Cause::NoTls,
                format!(
                    "{step}: the peer sent more than {} KiB without finishing",
                    self.cap / 1024
                ),
            ),
            _ => ProbeError::new(Cause::HandshakeFailure, format!("{step}: {}", short_io(e))),
        }
    }

    /// Read once more into `pending` (dialogue phase). Returns the bytes added; EOF is an error.
    pub fn fill(&mut self, step: &str) -> Result<usize, ProbeError> {
        let mut buf = [0u8; 4096];
        let limit = match self.first_byte {
            Some((until, _)) if self.total_read == 0 => {
                Some(until.saturating_duration_since(std::time::Instant::now()))
            }
            _ => None,
        };
        let r = match limit {
            Some(l) => self.read_inner(&mut buf, Some(l)),
            None => self.read(&mut buf),
        };
        if let (Some((_, wait)), Err(e)) = (self.first_byte, &r) {
            if self.total_read == 0 && matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
            {
                return Err(ProbeError::new(
                    Cause::Timeout,
                    format!(
                        "{step}: the server sent nothing within {}; this protocol's server speaks first — \
                         a server that waits for the client may expect TLS from the first byte (--starttls none) \
                         or a client-first dialogue such as PostgreSQL's (--starttls postgres)",
                        super::fmt_duration(wait)
                    ),
                ));
            }
        }
        match r {
            Ok(0) => Err(ProbeError::new(
                Cause::HandshakeFailure,
                format!("{step}: the server closed the connection"),
            )),
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            Err(e) => Err(self.io_error(&e, step)),
        }
    }

    /// Exactly `n` bytes of the dialogue.
    pub fn read_exact_d(&mut self, n: usize, step: &str) -> Result<Vec<u8>, ProbeError> {
        while self.pending.len() < n {
            self.fill(step)?;
        }
        Ok(self.pending.drain(..n).collect())
    }

    /// One line (up to and including `\n`), at most `max` bytes.
    pub fn read_line(&mut self, max: usize, step: &str) -> Result<String, ProbeError> {
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=i).collect();
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            if self.pending.len() > max {
                return Err(ProbeError::new(
                    Cause::NoTls,
                    format!(
                        "{step}: no end of line within {max} bytes ({})",
                        super::sniff::preview(&self.pending)
                    ),
                ));
            }
            self.fill(step)?;
        }
    }

    /// Read until `pred(pending)` returns the length of a complete message, at most `max` bytes.
    pub fn read_until(
        &mut self,
        max: usize,
        step: &str,
        pred: impl Fn(&[u8]) -> Option<usize>,
    ) -> Result<Vec<u8>, ProbeError> {
        loop {
            if let Some(n) = pred(&self.pending) {
                return Ok(self.pending.drain(..n.min(self.pending.len())).collect());
            }
            if self.pending.len() > max {
                return Err(ProbeError::new(
                    Cause::NoTls,
                    format!(
                        "{step}: no complete answer within {max} bytes ({})",
                        super::sniff::preview(&self.pending)
                    ),
                ));
            }
            self.fill(step)?;
        }
    }

    /// Bytes the server sent after the go-ahead, before our ClientHello: whatever is
    /// buffered plus whatever is already waiting on the socket. They are removed.
    pub fn leftover(&mut self) -> Option<Vec<u8>> {
        let mut extra = std::mem::take(&mut self.pending);
        if self.stream.set_nonblocking(true).is_ok() {
            let mut buf = [0u8; 4096];
            while extra.len() < 64 * 1024 {
                match self.stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => extra.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
            let _ = self.stream.set_nonblocking(false);
        }
        (!extra.is_empty()).then_some(extra)
    }

    /// The dialogue is over: TLS begins. Resets the capture for sniffing TLS's answer.
    pub fn start_tls_phase(&mut self) {
        self.captured.clear();
    }

    pub fn write_d(&mut self, data: &[u8], step: &str) -> Result<(), ProbeError> {
        self.write_all(data)
            .and_then(|_| self.flush())
            .map_err(|e| self.io_error(&e, step))
    }

    pub fn shutdown(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

impl Conn {
    /// Read with a wait no longer than `limit` (and the deadline).
    pub fn read_with_timeout(&mut self, buf: &mut [u8], limit: Duration) -> io::Result<usize> {
        self.read_inner(buf, Some(limit))
    }

    fn read_inner(&mut self, buf: &mut [u8], limit: Option<Duration>) -> io::Result<usize> {
        if self.total_read >= self.cap {
            return Err(io::Error::new(io::ErrorKind::FileTooLarge, "read cap reached"));
        }
        let mut left = self
            .deadline
            .remaining("read")
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "deadline"))?;
        if let Some(l) = limit {
            left = left.min(l.max(Duration::from_millis(1)));
        }
        self.stream.set_read_timeout(Some(left))?;
        let max = buf.len().min(self.cap - self.total_read);
        let n = loop {
            match self.stream.read(&mut buf[..max]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        self.total_read += n;
        if self.captured.len() < CAPTURE {
            let take = n.min(CAPTURE - self.captured.len());
            self.captured.extend_from_slice(&buf[..take]);
        }
        Ok(n)
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf, None)
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self
            .deadline
            .remaining("write")
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "deadline"))?;
        self.stream.set_write_timeout(Some(left))?;
        self.stream.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let left = self
            .deadline
            .remaining("write")
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "deadline"))?;
        self.stream.set_write_timeout(Some(left))?;
        self.stream.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_rules_follow_go() {
        // Go's httpproxy tests (golang.org/x/net/http/httpproxy/proxy_test.go), adapted.
        let np = "foobar.com, .barbaz.net, *.wildcard.com, 192.168.1.1, 192.168.1.2:81, \
                  192.168.1.3:80, 10.0.0.0/30, 2001:db8::52:0:1, [2001:db8::52:0:2]:443, \
                  [2001:db8::52:0:3]:80, 2002:db8:a::45/64, bar.com:80";
        let cases: &[(&str, u16, bool)] = &[
            ("localhost", 443, false),
            ("127.0.0.1", 443, false),
            ("::1", 443, false),
            ("foobar.com", 443, false),
            ("www.foobar.com", 443, false),
            ("xfoobar.com", 443, true),
            ("barbaz.net", 443, true),
            ("www.barbaz.net", 443, false),
            ("wildcard.com", 443, true),
            ("www.wildcard.com", 443, false),
            ("192.168.1.1", 443, false),
            ("192.168.1.2", 443, true),
            ("192.168.1.2", 81, false),
            ("192.168.1.3", 80, false),
            ("10.0.0.2", 443, false),
            ("10.0.0.4", 443, true),
            ("2001:db8::52:0:1", 443, false),
            ("2001:db8::52:0:2", 443, false),
            ("2001:db8::52:0:3", 443, true),
            ("2002:db8:a::123", 443, false),
            ("bar.com", 80, false),
            ("bar.com", 443, true),
            ("www.bar.com", 80, false),
            ("example.org", 443, true),
        ];
        for (host, port, want) in cases {
            assert_eq!(use_proxy(np, host, *port), *want, "{host}:{port}");
        }
        assert!(!use_proxy("*", "example.org", 443));
        assert!(use_proxy("", "example.org", 443));
    }

    #[test]
    fn proxy_from_env_prefers_upper_case() {
        let w = World::fixture(
            "/nonexistent",
            &[("HTTPS_PROXY", "proxy.corp:3128"), ("https_proxy", "other:1")],
        );
        let p = proxy_from_env(&w, "example.org", 443).unwrap().unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 3128));
        let w = World::fixture(
            "/nonexistent",
            &[("HTTPS_PROXY", ""), ("https_proxy", "http://u:p%40ss@lower:8080")],
        );
        let p = proxy_from_env(&w, "example.org", 443).unwrap().unwrap();
        assert_eq!((p.host.as_str(), p.port), ("lower", 8080));
        assert_eq!(p.userinfo.as_deref(), Some("u:p@ss"));
        assert_eq!(p.redacted(), "http://***@lower:8080");
        // HTTP_PROXY does not apply to https requests.
        let w = World::fixture("/nonexistent", &[("HTTP_PROXY", "proxy:80")]);
        assert!(proxy_from_env(&w, "example.org", 443).unwrap().is_none());
        let w = World::fixture(
            "/nonexistent",
            &[("HTTPS_PROXY", "proxy"), ("no_proxy", ".example.org")],
        );
        assert!(proxy_from_env(&w, "a.example.org", 443).unwrap().is_none());
        assert_eq!(proxy_from_env(&w, "example.org", 443).unwrap().unwrap().port, 80);
        assert!(ProxyUrl::parse("socks5://x:1080").is_err());
        assert_eq!(ProxyUrl::parse("http://[::1]:3128").unwrap().port, 3128);
        assert_eq!(ProxyUrl::parse("http://[::1]").unwrap().port, 80);
    }

    #[test]
    fn resolve_ip_literals_without_dns() {
        let d = Deadline::after(Duration::from_secs(1));
        assert_eq!(resolve("::1", 5, &d).unwrap(), vec!["[::1]:5".parse().unwrap()]);
        let e = resolve("does-not-exist.invalid", 5, &d).unwrap_err();
        assert!(matches!(e.cause, Cause::DnsFailure | Cause::Timeout), "{e:?}");
    }
}
