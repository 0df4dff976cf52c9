//! The binary stops gracefully on SIGTERM: a request in flight gets its answer, then the
//! process ends with success.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_ends() -> TestResult {
    let dir = tempfile::tempdir()?;
    write_files(dir.path(), "RS256")?;
    let port = free_port()?;
    let path = dir.path().join("idp.toml");
    std::fs::write(
        &path,
        config_text("RS256", "").replace("127.0.0.1:0", &format!("127.0.0.1:{port}")),
    )?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_cpx-idp"))
        .args(["serve", "--config"])
        .arg(&path)
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stderr = BufReader::new(child.stderr.take().ok_or("no stderr")?);
    let mut next_line = move || -> Result<String, Error> {
        let mut line = String::new();
        stderr.read_line(&mut line)?;
        Ok(line)
    };
    let serving = next_line()?;
    assert!(serving.contains("serving"), "{serving}");

    // Two requests pipelined in one write: a whole GET, then a /token request whose body is
    // not all sent. Once the GET's answer is back, the server has the POST's head in hand (it
    // came in the same segment): the POST is in flight when the signal comes.
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = "grant_type=authorization_code&code=x";
    write!(
        stream,
        "GET /jwks HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n\
         POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..10]
    )?;
    stream.flush()?;
    let first = read_response(&mut stream)?;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(killed.success());
    let stopping = next_line()?;
    assert!(stopping.contains("stopping"), "{stopping}");

    stream.write_all(&body.as_bytes()[10..])?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert!(answer.contains("invalid_client"), "{answer}");

    let status = child.wait()?;
    assert!(status.success(), "{status}");
    Ok(())
}

/// One HTTP/1.1 response with a Content-Length, read whole (head and body).
fn read_response(stream: &mut TcpStream) -> Result<String, Error> {
    let mut received = Vec::new();
    let mut byte = [0u8; 1];
    while !received.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err("connection closed in the head".into());
        }
        received.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&received).to_lowercase();
    let length: usize = head
        .split("content-length:")
        .nth(1)
        .and_then(|rest| rest.split("\r\n").next())
        .map(str::trim)
        .ok_or("no content-length")?
        .parse()?;
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body)?;
    received.extend(body);
    Ok(String::from_utf8_lossy(&received).into_owned())
}
