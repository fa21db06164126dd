//! The PMI-1 line format (simple PMI v1.1) as MPICH Hydra and Slurm speak it:
//! `cmd=NAME key=value key=value\n`, at most [`MAX_LINE`] bytes per line including the
//! newline, no spaces, `=` or newlines inside keys, no newlines inside values. A space
//! or backslash inside a value travels escaped with a backslash (`\ `, `\\`), as
//! MPICH's PMI wire code (`pmi_wire.c`) writes and reads it, so an abort message keeps
//! its spaces. [`Command`] encodes and parses one line; [`LineBuffer`] cuts a byte
//! stream into lines. Both the client (in the library) and the server (in the
//! launcher) use this module, so the rules live here once.

use std::fmt;

/// The longest PMI-1 line, including its `'\n'`.
pub const MAX_LINE: usize = 1024;

/// A wire-format violation: what was wrong and, where there is one, which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PMI wire error: {}", self.0)
    }
}

impl std::error::Error for WireError {}

fn err(msg: impl Into<String>) -> WireError {
    WireError(msg.into())
}

/// One PMI-1 command or reply: the `cmd=` value and the other pairs in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub cmd: String,
    pub args: Vec<(String, String)>,
}

fn check_key(what: &str, key: &str) -> Result<(), WireError> {
    if key.is_empty() {
        return Err(err(format!("empty {what}")));
    }
    if let Some(c) = key.chars().find(|c| matches!(c, ' ' | '\n' | '\r' | '=')) {
        return Err(err(format!(
            "{what} {key:?} contains forbidden character {c:?}"
        )));
    }
    Ok(())
}

fn check_value(key: &str, value: &str) -> Result<(), WireError> {
    if let Some(c) = value.chars().find(|c| matches!(c, '\n' | '\r')) {
        return Err(err(format!(
            "value of key {key:?} contains forbidden character {c:?}"
        )));
    }
    Ok(())
}

/// A value as it goes on the wire: `\` and space escaped with a backslash.
pub fn escape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '\\' | ' ') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The inverse of [`escape_value`]: a backslash takes the next character as it
/// is; a backslash at the very end stays.
fn unescape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut it = v.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some(n) => out.push(n),
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

/// Splits a line at spaces that are not escaped; empty tokens (runs of spaces)
/// are dropped.
fn tokens(body: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, b) in body.bytes().enumerate() {
        if escaped {
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else if b == b' ' {
            if i > start {
                out.push(&body[start..i]);
            }
            start = i + 1;
        }
    }
    if body.len() > start {
        out.push(&body[start..]);
    }
    out
}

impl Command {
    /// A command with no arguments yet.
    pub fn new(cmd: &str) -> Command {
        Command {
            cmd: cmd.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends `key=value` (builder style). Validity is checked by [`Command::encode`].
    pub fn arg(mut self, key: &str, value: impl ToString) -> Command {
        self.args.push((key.to_string(), value.to_string()));
        self
    }

    /// The value of the first pair with this key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key` as an integer; an error names the key if it is missing or
    /// not a number.
    pub fn get_int(&self, key: &str) -> Result<i64, WireError> {
        let v = self
            .get(key)
            .ok_or_else(|| err(format!("command {:?}: missing key {key:?}", self.cmd)))?;
        v.parse::<i64>().map_err(|_| {
            err(format!(
                "command {:?}: key {key:?} is not an integer: {v:?}",
                self.cmd
            ))
        })
    }

    /// The wire line `cmd=NAME k=v ...\n`, or an error if a key or value cannot be
    /// carried or the line would exceed [`MAX_LINE`].
    pub fn encode(&self) -> Result<String, WireError> {
        check_key("command name", &self.cmd)?;
        let mut line = format!("cmd={}", self.cmd);
        for (k, v) in &self.args {
            check_key("key", k)?;
            check_value(k, v)?;
            line.push(' ');
            line.push_str(k);
            line.push('=');
            line.push_str(&escape_value(v));
        }
        line.push('\n');
        if line.len() > MAX_LINE {
            return Err(err(format!(
                "command {:?}: line of {} bytes exceeds the PMI-1 limit of {MAX_LINE}",
                self.cmd,
                line.len()
            )));
        }
        Ok(line)
    }

    /// Parses one line (the trailing `'\n'` is optional). The first token must be
    /// `cmd=NAME`; every other token must be `key=value` with a non-empty key. Runs of
    /// spaces between tokens are tolerated, as MPICH's parser does; escaped spaces
    /// and backslashes in values are undone.
    pub fn parse(line: &str) -> Result<Command, WireError> {
        let body = line.strip_suffix('\n').unwrap_or(line);
        let body = body.strip_suffix('\r').unwrap_or(body);
        if body.len() + 1 > MAX_LINE {
            return Err(err(format!(
                "line of {} bytes exceeds the PMI-1 limit of {MAX_LINE}",
                body.len() + 1
            )));
        }
        if body.contains('\n') {
            return Err(err("newline inside a line"));
        }
        let mut tokens = tokens(body).into_iter();
        let first = tokens.next().ok_or_else(|| err("empty line"))?;
        let cmd = match first.split_once('=') {
            Some(("cmd", name)) if !name.is_empty() => name,
            Some(("cmd", _)) => return Err(err("empty command name after cmd=")),
            _ => {
                return Err(err(format!(
                    "line does not start with cmd=...: {:?}",
                    truncate(body)
                )))
            }
        };
        check_key("command name", cmd)?;
        let mut args = Vec::new();
        for tok in tokens {
            let (k, v) = tok
                .split_once('=')
                .ok_or_else(|| err(format!("token {:?} is not key=value", truncate(tok))))?;
            if k.is_empty() {
                return Err(err(format!("empty key in token {:?}", truncate(tok))));
            }
            args.push((k.to_string(), unescape_value(v)));
        }
        Ok(Command {
            cmd: cmd.to_string(),
            args,
        })
    }
}

/// At most 60 characters of untrusted text, for error messages.
fn truncate(s: &str) -> String {
    if s.chars().count() <= 60 {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(60).collect();
        t.push_str("...");
        t
    }
}

/// Splits a byte stream into lines. Keeps a partial tail between pushes; a line longer
/// than [`MAX_LINE`] (newline included) or one that is not UTF-8 is an error, after
/// which the buffered bytes are dropped (the stream is out of step; disconnect it).
#[derive(Debug, Default)]
pub struct LineBuffer {
    buf: Vec<u8>,
}

impl LineBuffer {
    pub fn new() -> Self {
        LineBuffer { buf: Vec::new() }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held that do not yet form a whole line.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next whole line without its `'\n'`, `None` if no whole line is buffered yet.
    pub fn next_line(&mut self) -> Result<Option<String>, WireError> {
        match self.buf.iter().position(|&b| b == b'\n') {
            Some(pos) => {
                if pos + 1 > MAX_LINE {
                    self.buf.clear();
                    return Err(err(format!(
                        "line of {} bytes exceeds the PMI-1 limit of {MAX_LINE}",
                        pos + 1
                    )));
                }
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                match String::from_utf8(line) {
                    Ok(mut s) => {
                        s.pop();
                        Ok(Some(s))
                    }
                    Err(_) => {
                        self.buf.clear();
                        Err(err("line is not valid UTF-8"))
                    }
                }
            }
            None if self.buf.len() >= MAX_LINE => {
                let n = self.buf.len();
                self.buf.clear();
                Err(err(format!(
                    "{n} bytes without a newline exceed the PMI-1 limit of {MAX_LINE}"
                )))
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_and_parse_round_trip() {
        let c = Command::new("put")
            .arg("kvsname", "kvs_1")
            .arg("key", "k")
            .arg("value", "a=b");
        let line = c.encode().unwrap();
        assert_eq!(line, "cmd=put kvsname=kvs_1 key=k value=a=b\n");
        let p = Command::parse(&line).unwrap();
        assert_eq!(p, c);
        assert_eq!(p.get("value"), Some("a=b"));
        assert_eq!(Command::parse(line.trim_end()).unwrap(), c);
    }

    #[test]
    fn spaces_and_backslashes_in_values_are_escaped() {
        let c = Command::new("abort")
            .arg("exitcode", 3)
            .arg("message", "MPI_Send(count=-1): bad \\ count  ")
            .arg("k", "\\");
        let line = c.encode().unwrap();
        assert_eq!(
            line,
            "cmd=abort exitcode=3 message=MPI_Send(count=-1):\\ bad\\ \\\\\\ count\\ \\  k=\\\\\n"
        );
        assert_eq!(Command::parse(&line).unwrap(), c);
        // A lone backslash at the end (not written by encode) stays.
        assert_eq!(Command::parse("cmd=x v=a\\").unwrap().get("v"), Some("a\\"));
    }

    #[test]
    fn empty_value_and_extra_spaces() {
        let p = Command::parse("cmd=get_result  rc=1 value=\n").unwrap();
        assert_eq!(p.cmd, "get_result");
        assert_eq!(p.get("value"), Some(""));
        assert_eq!(p.get_int("rc").unwrap(), 1);
    }

    #[test]
    fn get_int_names_the_key() {
        let p = Command::parse("cmd=abort exitcode=x").unwrap();
        let e = p.get_int("exitcode").unwrap_err();
        assert!(e.0.contains("exitcode"), "{e}");
        let e = p.get_int("rc").unwrap_err();
        assert!(e.0.contains("missing key \"rc\""), "{e}");
        assert_eq!(
            Command::parse("cmd=x n=-3").unwrap().get_int("n").unwrap(),
            -3
        );
    }

    #[test]
    fn parse_rejects_malformed() {
        for bad in [
            "",
            "\n",
            "key=1 cmd=init",
            "cmd= a=1",
            "cmd",
            "command=init",
            "cmd=put =v",
            "cmd=put novalue",
            "cmd=a\nb=c",
        ] {
            assert!(Command::parse(bad).is_err(), "accepted {bad:?}");
        }
        let long = format!("cmd=put value={}", "x".repeat(MAX_LINE));
        assert!(Command::parse(&long).unwrap_err().0.contains("exceeds"));
    }

    #[test]
    fn encode_rejects_bad_keys_and_values() {
        assert!(Command::new("").encode().is_err());
        assert!(Command::new("a b").encode().is_err());
        assert!(Command::new("put").arg("", "v").encode().is_err());
        assert!(Command::new("put").arg("a=b", "v").encode().is_err());
        assert!(Command::new("put").arg("a b", "v").encode().is_err());
        assert!(Command::new("put").arg("a\n", "v").encode().is_err());
        let e = Command::new("put").arg("key", "a\rb").encode().unwrap_err();
        assert!(e.0.contains("\"key\""), "{e}");
        assert!(Command::new("put").arg("k", "a\nb").encode().is_err());
        // exactly MAX_LINE is fine, one more is not
        let fill = MAX_LINE - "cmd=p v=\n".len();
        assert!(Command::new("p")
            .arg("v", "x".repeat(fill))
            .encode()
            .is_ok());
        assert!(Command::new("p")
            .arg("v", "x".repeat(fill + 1))
            .encode()
            .is_err());
    }

    #[test]
    fn line_buffer_joins_partial_lines() {
        let mut b = LineBuffer::new();
        b.push(b"cmd=in");
        assert_eq!(b.next_line().unwrap(), None);
        b.push(b"it pmi_version=1\ncmd=get_ma");
        assert_eq!(
            b.next_line().unwrap().as_deref(),
            Some("cmd=init pmi_version=1")
        );
        assert_eq!(b.next_line().unwrap(), None);
        assert_eq!(b.pending(), 10);
        b.push(b"xes\n\n");
        assert_eq!(b.next_line().unwrap().as_deref(), Some("cmd=get_maxes"));
        assert_eq!(b.next_line().unwrap().as_deref(), Some(""));
        assert_eq!(b.next_line().unwrap(), None);
    }

    #[test]
    fn line_buffer_rejects_overlong_and_non_utf8() {
        let mut b = LineBuffer::new();
        b.push(&vec![b'x'; MAX_LINE - 1]);
        assert_eq!(b.next_line().unwrap(), None);
        b.push(b"\n");
        assert!(b.next_line().unwrap().is_some());

        b.push(&vec![b'x'; MAX_LINE]);
        assert!(b.next_line().is_err());
        assert_eq!(b.pending(), 0);

        let mut line = vec![b'y'; MAX_LINE];
        line.push(b'\n');
        b.push(&line);
        assert!(b.next_line().is_err());

        b.push(b"cmd=put value=\xff\xfe\n");
        assert!(b.next_line().unwrap_err().0.contains("UTF-8"));
        b.push(b"cmd=ok\n");
        assert_eq!(b.next_line().unwrap().as_deref(), Some("cmd=ok"));
    }
}
