//! The binary's signals: SIGHUP reads the CRLs again; SIGTERM stops it gracefully (a request
//! in flight gets its answer, then the process ends with success).
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
    write_files(dir.path())?;
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
    let signal = |name: &str| {
        Command::new("kill")
            .args([name, &child.id().to_string()])
            .status()
    };

    // SIGHUP reads the CRLs again (cpx-web's schedule), without a restart.
    assert!(signal("-HUP")?.success());
    let reloaded = next_line()?;
    assert!(
        reloaded.contains("CRLs reloaded (SIGHUP): 2 CAs covered"),
        "{reloaded}"
    );

    // A /token request announcing its body with `Expect: 100-continue`: the server answers
    // "100 Continue" when it starts reading the body, so the request is then surely in flight.
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = "grant_type=authorization_code&code=x";
    write!(
        stream,
        "POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nExpect: 100-continue\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len(),
    )?;
    stream.flush()?;
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim)?;
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    assert!(signal("-TERM")?.success());
    let stopping = next_line()?;
    assert!(stopping.contains("stopping"), "{stopping}");

    stream.write_all(body.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert!(answer.contains("invalid_client"), "{answer}");

    let status = child.wait()?;
    assert!(status.success(), "{status}");
    Ok(())
}
