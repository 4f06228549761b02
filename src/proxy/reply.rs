//! Responses the proxy writes itself: JSON errors
//! (`{"error":{"code":...,"message":...}}`) and `100 Continue`.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// Longest time spent draining a refused request's body.
const LINGER_TIME: Duration = Duration::from_secs(2);
/// Most bytes drained from a refused request.
const LINGER_BYTES: usize = 8 * 1024 * 1024;

/// Answers with a JSON error and ends the connection without losing that
/// answer: the sending side is closed first, then whatever the client
/// still sends (the rest of a request body) is read and dropped for a
/// bounded time. Closing with unread data would turn into a reset on the
/// agent's TCP connection that can destroy the answer before it is read.
pub fn refuse(sock: &UnixStream, status: u16, code: &str, message: &str) {
    if error(sock, status, code, message).is_err() {
        return;
    }
    let _ = sock.shutdown(Shutdown::Write);
    let deadline = Instant::now() + LINGER_TIME;
    let mut buf = vec![0u8; 16 * 1024];
    let mut drained = 0usize;
    while drained < LINGER_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match (&*sock).read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => drained += n,
        }
    }
}

/// Writes a JSON error response and asks the client to close.
fn error<W: Write>(mut w: W, status: u16, code: &str, message: &str) -> io::Result<()> {
    let body = crate::obj! {
        "error" => crate::obj! { "code" => code, "message" => message }
    }
    .to_json();
    let head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    w.write_all(&out)?;
    w.flush()
}

/// The interim response a client sending `Expect: 100-continue` waits for.
pub fn continue_100<W: Write>(mut w: W) -> io::Result<()> {
    w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    w.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuse_drains_the_rest_of_the_request() {
        let (near, far) = UnixStream::pair().unwrap();
        // Far more than a socket buffer: only completes if it is read.
        let body = vec![b'x'; 2 * 1024 * 1024];
        let writer = std::thread::spawn(move || {
            let mut w = &far;
            let sent = w.write_all(&body);
            let mut answer = String::new();
            let _ = (&far).read_to_string(&mut answer);
            (sent.is_ok(), answer)
        });
        refuse(&near, 401, "proxy_token_invalid", "no");
        drop(near);
        let (sent, answer) = writer.join().unwrap();
        assert!(sent, "the body was not drained");
        assert!(
            answer.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
            "{answer}"
        );
        assert!(
            answer.ends_with("\"proxy_token_invalid\",\"message\":\"no\"}}"),
            "{answer}"
        );
    }

    #[test]
    fn json_error_is_escaped_and_framed() {
        let mut out = Vec::new();
        error(&mut out, 502, "upstream_unavailable", "a \"quoted\"\nline").unwrap();
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 502 Bad Gateway\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("connection: close"));
        let v = crate::json::parse(body.as_bytes()).unwrap();
        let e = v.get("error").unwrap();
        assert_eq!(
            e.get("code").unwrap().as_str(),
            Some("upstream_unavailable")
        );
        assert_eq!(
            e.get("message").unwrap().as_str(),
            Some("a \"quoted\"\nline")
        );
    }
}
