//! A real `redis-server` for the tests of `tableau-auth-redis`: started on a free loopback port
//! with no persistence, and killed when dropped.
//!
//! Nothing here uses the `redis` crate: the server is probed and driven with raw RESP over a
//! `TcpStream` ([`RedisServer::command`], [`RedisServer::query`]), so that the tests look at what
//! Redis really holds through a path independent of the store under test.
//!
//! `redis-server` must be installed: `scripts/ensure-redis.sh` does it on Debian
//! (`apt-get install redis-server`).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one raw command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// A running `redis-server` on `127.0.0.1`, empty, with neither RDB nor AOF persistence.
///
/// Dropping it kills the server and removes its working directory.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    password: Option<String>,
    dir: PathBuf,
}

/// A decoded RESP2 reply ([`RedisServer::query`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resp {
    /// `+OK`.
    Simple(String),
    /// `-ERR ...`.
    Error(String),
    /// `:1`.
    Int(i64),
    /// `$3\r\nabc` (`None`: the null bulk string).
    Bulk(Option<Vec<u8>>),
    /// `*2 ...` (`None`: the null array).
    Array(Option<Vec<Self>>),
}

impl Resp {
    /// The bytes of a bulk string (`None` for anything else, or the null bulk string).
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Bulk(Some(b)) => Some(b),
            _ => None,
        }
    }

    /// The elements of an array (empty for anything else).
    pub fn items(&self) -> &[Self] {
        match self {
            Self::Array(Some(items)) => items,
            _ => &[],
        }
    }
}

fn redis_server_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("redis-server"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let usual = Path::new("/usr/bin/redis-server");
        usual.is_file().then(|| usual.to_path_buf())
    })
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("a bound address").port()
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers `PING`.
    ///
    /// # Panics
    ///
    /// When `redis-server` is not installed (with how to install it), or when it does not come
    /// up.
    pub fn start() -> Self {
        Self::start_inner(None)
    }

    /// Like [`RedisServer::start`], with `--requirepass password`: clients must `AUTH`.
    pub fn start_with_password(password: &str) -> Self {
        Self::start_inner(Some(password.to_owned()))
    }

    fn start_inner(password: Option<String>) -> Self {
        static SERVERS: AtomicU64 = AtomicU64::new(0);
        if SERVERS.load(Ordering::Relaxed) == 0 {
            remove_orphaned_dirs();
        }
        let dir = std::env::temp_dir().join(format!(
            "tableau-auth-redis-{}-{}",
            std::process::id(),
            SERVERS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the redis-server's working directory");
        let mut server = Self {
            child: None,
            port: 0,
            password,
            dir,
        };
        // Another process may take the port between our probe and the server's bind: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            server.port = free_port();
            match server.spawn() {
                Ok(()) => return server,
                Err(why) => last = why,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    fn spawn(&mut self) -> Result<(), String> {
        let Some(binary) = redis_server_binary() else {
            panic!(
                "redis-server not found: run scripts/ensure-redis.sh (apt-get install \
                 redis-server) or the README's test command"
            );
        };
        let log = self.dir.join("redis.log");
        let _ = std::fs::remove_file(&log);
        // A shell runs the server and a watchdog that kills it once our end of the shell's
        // stdin closes: when the server is stopped or dropped, and also when this process dies
        // without running destructors (a killed or aborted test run leaves no server behind).
        // The shell exits with the server, so an early exit (port taken) still shows.
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(
                r#"exec 3<&0
"$0" "$@" </dev/null 3<&- &
pid=$!
(read -r _ <&3; kill -9 "$pid" 2>/dev/null) &
exec 3<&-
wait "$pid""#,
            )
            .arg(&binary)
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log);
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {} through /bin/sh: {e}", binary.display()))?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("it exited ({status}); its log:\n{log}"));
            }
            if self.ping() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                end(child);
                return Err(format!("no answer to PING within {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ping(&self) -> bool {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut reply = [0_u8; 7];
        let Ok(n) = stream.read(&mut reply) else {
            return false;
        };
        // With --requirepass, an unauthenticated PING answers -NOAUTH: the server is up.
        reply
            .get(..n)
            .is_some_and(|r| r.starts_with(b"+PONG") || r.starts_with(b"-NOAUTH"))
    }

    /// `redis://127.0.0.1:PORT` (without the password of [`RedisServer::start_with_password`]).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's port (kept across [`RedisServer::stop`] and [`RedisServer::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (its port number is kept for [`RedisServer::restart`]).
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            end(child);
        }
    }

    /// Starts the server again on the same port, empty.
    ///
    /// # Panics
    ///
    /// When it does not come up.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + START_TIMEOUT;
        // The port was just released: a bind may fail for a moment.
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(why) if Instant::now() > deadline => {
                    panic!("redis-server did not restart on port {}: {why}", self.port)
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Sends one command (each argument a bulk string) and returns its raw RESP reply bytes
    /// (after an `AUTH` when the server has a password).
    ///
    /// # Panics
    ///
    /// When the server cannot be reached or its reply cannot be read.
    pub fn command(&self, args: &[&[u8]]) -> Vec<u8> {
        self.exchange(args)
            .expect("a raw command to redis-server")
            .0
    }

    /// Sends one command and decodes its reply.
    ///
    /// # Panics
    ///
    /// As [`RedisServer::command`].
    pub fn query(&self, args: &[&[u8]]) -> Resp {
        self.exchange(args)
            .expect("a raw command to redis-server")
            .1
    }

    fn exchange(&self, args: &[&[u8]]) -> io::Result<(Vec<u8>, Resp)> {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        stream.set_read_timeout(Some(COMMAND_TIMEOUT))?;
        stream.set_write_timeout(Some(COMMAND_TIMEOUT))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        if let Some(password) = &self.password {
            writer.write_all(&encode(&[b"AUTH", password.as_bytes()]))?;
            let mut raw = Vec::new();
            if let Resp::Error(e) = read_reply(&mut reader, &mut raw)? {
                return Err(io::Error::other(format!("AUTH failed: {e}")));
            }
        }
        writer.write_all(&encode(args))?;
        let mut raw = Vec::new();
        let reply = read_reply(&mut reader, &mut raw)?;
        Ok((raw, reply))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes the working directories left by test processes that died without their destructors
/// (their servers died with them: see [`RedisServer::spawn`]).
fn remove_orphaned_dirs() {
    // Whether a process lives is read from /proc: elsewhere, leave them.
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("tableau-auth-redis-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Ends a server started by [`RedisServer::spawn`]: closing the shell's stdin makes its
/// watchdog kill the server; the shell then exits. Returns once the server is gone (the shell is
/// killed after 5 s if it is not).
fn end(mut child: Child) {
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A command as a RESP array of bulk strings.
fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn read_line(reader: &mut impl BufRead, raw: &mut Vec<u8>) -> io::Result<String> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    raw.extend_from_slice(&line);
    if !line.ends_with(b"\r\n") {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "a RESP line without CRLF",
        ));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "non-UTF-8"))
}

fn parse_len(text: &str) -> io::Result<i64> {
    text.parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a bad RESP length"))
}

/// Reads one complete RESP2 reply, appending its raw bytes to `raw`.
fn read_reply(reader: &mut impl BufRead, raw: &mut Vec<u8>) -> io::Result<Resp> {
    let line = read_line(reader, raw)?;
    let (kind, rest) = line.split_at(line.len().min(1));
    Ok(match kind {
        "+" => Resp::Simple(rest.to_owned()),
        "-" => Resp::Error(rest.to_owned()),
        ":" => Resp::Int(parse_len(rest)?),
        "$" => match usize::try_from(parse_len(rest)?) {
            Err(_) => Resp::Bulk(None),
            Ok(len) => {
                let mut body = vec![0_u8; len + 2];
                reader.read_exact(&mut body)?;
                raw.extend_from_slice(&body);
                body.truncate(len);
                Resp::Bulk(Some(body))
            }
        },
        "*" => match usize::try_from(parse_len(rest)?) {
            Err(_) => Resp::Array(None),
            Ok(count) => {
                let mut items = Vec::with_capacity(count.min(1024));
                for _ in 0..count {
                    items.push(read_reply(reader, raw)?);
                }
                Resp::Array(Some(items))
            }
        },
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("an unknown RESP type in {line:?}"),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_decode_from_their_raw_bytes() {
        let bytes = b"*3\r\n$3\r\nabc\r\n:-4\r\n*2\r\n+OK\r\n$-1\r\n";
        let mut raw = Vec::new();
        let reply = read_reply(&mut &bytes[..], &mut raw).unwrap();
        assert_eq!(raw, bytes);
        assert_eq!(
            reply,
            Resp::Array(Some(vec![
                Resp::Bulk(Some(b"abc".to_vec())),
                Resp::Int(-4),
                Resp::Array(Some(vec![Resp::Simple("OK".into()), Resp::Bulk(None)])),
            ]))
        );
    }
}
