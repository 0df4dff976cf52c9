//! A private redis-server per test, on a free port, with no persistence, stopped on drop.
//! Needs `redis-server` (Debian package, installed by scripts/setup.sh): without it a test is
//! skipped on a developer machine and fails under `CI=true`.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, in_ci, TestError};

/// How a test's redis-server is started.
#[derive(Debug, Default, Clone)]
pub struct RedisOptions {
    /// `requirepass`: clients must AUTH.
    pub password: Option<String>,
    /// More `redis-server` arguments (e.g. `--maxmemory`, `--tls-port`).
    pub args: Vec<String>,
}

pub struct Redis {
    pub port: u16,
    options: RedisOptions,
    child: Option<Child>,
}

impl Redis {
    /// None (skip) when redis-server is missing on a developer machine; an error under CI.
    pub fn start() -> Result<Option<Self>, TestError> {
        Self::start_with(RedisOptions::default())
    }

    /// The same with more `redis-server` arguments (`--maxmemory` and the like).
    pub fn start_with_args(args: &[&str]) -> Result<Option<Self>, TestError> {
        Self::start_with(RedisOptions {
            args: args.iter().map(|arg| arg.to_string()).collect(),
            ..RedisOptions::default()
        })
    }

    pub fn start_with(options: RedisOptions) -> Result<Option<Self>, TestError> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok();
        if !found {
            if in_ci() {
                return Err("redis-server not found (scripts/setup.sh installs it)".into());
            }
            eprintln!("skipped: redis-server not found (scripts/setup.sh installs it)");
            return Ok(None);
        }
        // A free port can be taken between the look and the start (another test restarting
        // its server on its own port): try a few.
        let mut last_error = None;
        for _ in 0..5 {
            let mut redis = Redis {
                port: free_port()?,
                options: options.clone(),
                child: None,
            };
            match redis.spawn() {
                Ok(()) => return Ok(Some(redis)),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| "redis-server did not start".into()))
    }

    /// Starts (again, after [`Redis::stop`]) the server on its port.
    pub fn spawn(&mut self) -> Result<(), TestError> {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(&self.options.args);
        if let Some(password) = &self.options.password {
            command.args(["--requirepass", password]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                // The server answering must be this one: tests run in parallel, and a port
                // freed by one test's restart can be another's "free" port.
                if server_pid(stream, self.options.password.as_deref())? == pid {
                    return Ok(());
                }
                self.stop();
                return Err(format!("port {} is another redis-server's", self.port).into());
            }
            if Instant::now() > deadline {
                return Err("redis-server did not start".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `redis://` URL of the plain port (with the password, if any).
    pub fn url(&self) -> String {
        match &self.options.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}/0", self.port),
            None => format!("redis://127.0.0.1:{}/0", self.port),
        }
    }

    /// Runs one command on the plain port and returns the raw answer (RESP), for checks.
    pub fn raw_command(&self, parts: &[&str]) -> Result<String, TestError> {
        let stream = TcpStream::connect(("127.0.0.1", self.port))?;
        raw_command(stream, self.options.password.as_deref(), parts)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn resp(parts: &[&str]) -> Vec<u8> {
    let mut request = format!("*{}\r\n", parts.len());
    for part in parts {
        request.push_str(&format!("${}\r\n{part}\r\n", part.len()));
    }
    request.into_bytes()
}

/// Sends AUTH (if a password) then `parts`, and reads the answer to `parts`, whole for a bulk
/// string or a simple line.
fn raw_command(
    mut stream: TcpStream,
    password: Option<&str>,
    parts: &[&str],
) -> Result<String, TestError> {
    use std::io::{Read, Write};
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = Vec::new();
    if let Some(password) = password {
        request.extend(resp(&["AUTH", password]));
    }
    request.extend(resp(parts));
    stream.write_all(&request)?;
    let mut answer = String::new();
    let mut buffer = [0u8; 65536];
    let skip = if password.is_some() {
        "+OK\r\n".len()
    } else {
        0
    };
    loop {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            return Err(format!("redis-server closed the connection: {answer:?}").into());
        }
        answer.push_str(&String::from_utf8_lossy(&buffer[..read]));
        if answer.len() < skip {
            continue;
        }
        let body = &answer[skip..];
        if let Some(rest) = body.strip_prefix('$') {
            if let Some((length, data)) = rest.split_once("\r\n") {
                let length: i64 = length.parse()?;
                if length < 0 || data.len() >= usize::try_from(length)? + 2 {
                    return Ok(body.to_owned());
                }
            }
        } else if body.ends_with("\r\n") {
            return Ok(body.to_owned());
        }
    }
}

/// The process id of the redis-server behind `stream` (INFO server's `process_id`).
fn server_pid(stream: TcpStream, password: Option<&str>) -> Result<u32, TestError> {
    let answer = raw_command(stream, password, &["INFO", "server"])?;
    let pid = answer
        .split_once("process_id:")
        .and_then(|(_, rest)| rest.split_once("\r\n"))
        .map(|(pid, _)| pid.trim().to_owned())
        .ok_or_else(|| format!("no process_id in redis-server's INFO: {answer:?}"))?;
    Ok(pid.parse()?)
}
