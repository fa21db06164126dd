//! The PMI-2 wire format as Slurm's `mpi/pmi2` plugin (22.05) speaks it.
//!
//! After a PMI-1 `cmd=init pmi_version=2 pmi_subversion=0` line (see [`crate::wire`]),
//! every message is a 6-byte header, the body's length in decimal left-aligned and
//! padded with spaces (`%-6d`), then the body: `cmd=NAME;key=value;...;`. There is no
//! escaping: keys may not hold `=` or `;`, values may not hold `;`. Slurm writes the
//! header and the body with separate writes, so a reader must read exactly 6 bytes,
//! then exactly the body. [`Message`] encodes and parses one message.

use crate::wire::WireError;

/// Length of the header before every PMI-2 body.
pub const HEADER: usize = 6;

/// The longest value this crate lets a caller put: Slurm 22.05's slurmstepd crashed
/// on longer PMI-2 values.
pub const MAX_VALUE: usize = 1024;

/// The longest body accepted on reading (a sane bound on untrusted input; the header
/// itself allows 999999).
pub const MAX_BODY: usize = 64 * 1024;

fn err(msg: impl Into<String>) -> WireError {
    WireError(msg.into())
}

/// One PMI-2 request or response: the `cmd=` value and the other pairs in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub cmd: String,
    pub args: Vec<(String, String)>,
}

fn check_key(what: &str, key: &str) -> Result<(), WireError> {
    if key.is_empty() {
        return Err(err(format!("empty PMI-2 {what}")));
    }
    if let Some(c) = key.chars().find(|c| matches!(c, ';' | '=' | '\n' | '\0')) {
        return Err(err(format!(
            "PMI-2 {what} {key:?} contains forbidden character {c:?}"
        )));
    }
    Ok(())
}

impl Message {
    pub fn new(cmd: &str) -> Message {
        Message {
            cmd: cmd.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends `key=value` (builder style). Validity is checked by [`Message::encode`].
    pub fn arg(mut self, key: &str, value: impl ToString) -> Message {
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

    /// `rc` as an integer (0 when absent, as the PMI-2 reference client does).
    pub fn rc(&self) -> Result<i64, WireError> {
        match self.get("rc") {
            None => Ok(0),
            Some(v) => v
                .parse()
                .map_err(|_| err(format!("{}: rc is not an integer: {v:?}", self.cmd))),
        }
    }

    /// Whether `found=TRUE` (kvs-get, info-getjobattr).
    pub fn found(&self) -> bool {
        self.get("found") == Some("TRUE")
    }

    /// Header and body, ready for one write.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        check_key("command name", &self.cmd)?;
        let mut body = format!("cmd={};", self.cmd);
        for (k, v) in &self.args {
            check_key("key", k)?;
            if let Some(c) = v.chars().find(|c| matches!(c, ';' | '\n' | '\0')) {
                return Err(err(format!(
                    "value of PMI-2 key {k:?} contains forbidden character {c:?}"
                )));
            }
            if v.len() > MAX_VALUE {
                return Err(err(format!(
                    "value of PMI-2 key {k:?} has {} bytes, more than {MAX_VALUE}",
                    v.len()
                )));
            }
            body.push_str(k);
            body.push('=');
            body.push_str(v);
            body.push(';');
        }
        if body.len() > 999_999 {
            return Err(err("PMI-2 body does not fit the 6-byte header"));
        }
        let mut out = format!("{:<6}", body.len()).into_bytes();
        out.extend_from_slice(body.as_bytes());
        Ok(out)
    }

    /// The body length a 6-byte header announces.
    pub fn parse_header(h: &[u8]) -> Result<usize, WireError> {
        let text = std::str::from_utf8(h).map_err(|_| err("PMI-2 header is not text"))?;
        let n: usize = text
            .trim()
            .parse()
            .map_err(|_| err(format!("PMI-2 header {text:?} is not a length")))?;
        if n > MAX_BODY {
            return Err(err(format!(
                "PMI-2 body of {n} bytes is longer than {MAX_BODY}"
            )));
        }
        Ok(n)
    }

    /// Parses one body (without its header). The first pair must be `cmd=NAME`;
    /// empty segments (a trailing `;`) are skipped.
    pub fn parse(body: &[u8]) -> Result<Message, WireError> {
        let text = std::str::from_utf8(body).map_err(|_| err("PMI-2 body is not UTF-8"))?;
        let mut pairs = text.split(';').filter(|s| !s.is_empty()).map(|s| {
            s.split_once('=')
                .ok_or_else(|| err(format!("PMI-2 segment {s:?} is not key=value")))
        });
        let cmd = match pairs.next() {
            Some(Ok(("cmd", c))) if !c.is_empty() => c.to_string(),
            Some(Err(e)) => return Err(e),
            _ => {
                return Err(err(format!(
                    "PMI-2 body does not start with cmd=: {text:?}"
                )))
            }
        };
        let mut args = Vec::new();
        for p in pairs {
            let (k, v) = p?;
            if k.is_empty() {
                return Err(err(format!("empty key in PMI-2 body {text:?}")));
            }
            args.push((k.to_string(), v.to_string()));
        }
        Ok(Message { cmd, args })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_slurm_expects() {
        let m = Message::new("fullinit")
            .arg("pmijobid", "9.0")
            .arg("pmirank", 0)
            .arg("threaded", "FALSE");
        assert_eq!(
            m.encode().unwrap(),
            b"51    cmd=fullinit;pmijobid=9.0;pmirank=0;threaded=FALSE;".to_vec()
        );
        assert_eq!(
            Message::new("kvs-fence").encode().unwrap(),
            b"14    cmd=kvs-fence;".to_vec()
        );
    }

    #[test]
    fn parses_slurm_responses() {
        let m = Message::parse(
            b"cmd=fullinit-response;rc=0;pmi-version=2;pmi-subversion=0;rank=0;size=3;appnum=-1;debugged=FALSE;pmiverbose=FALSE;",
        )
        .unwrap();
        assert_eq!(m.cmd, "fullinit-response");
        assert_eq!(m.rc().unwrap(), 0);
        assert_eq!(m.get("size"), Some("3"));
        let m = Message::parse(
            b"cmd=info-getjobattr-response;rc=0;found=TRUE;value=(vector,(0,1,2),(1,1,1));",
        )
        .unwrap();
        assert!(m.found());
        assert_eq!(m.get("value"), Some("(vector,(0,1,2),(1,1,1))"));
        let m = Message::parse(b"cmd=kvs-get-response;rc=0;found=FALSE;").unwrap();
        assert!(!m.found());
        // '=' inside a value stays in the value
        let m = Message::parse(b"cmd=x;value=a=b;").unwrap();
        assert_eq!(m.get("value"), Some("a=b"));
    }

    #[test]
    fn header_round_trip_and_limits() {
        let bytes = Message::new("kvs-put")
            .arg("key", "k")
            .arg("value", "v")
            .encode()
            .unwrap();
        let n = Message::parse_header(&bytes[..HEADER]).unwrap();
        assert_eq!(n, bytes.len() - HEADER);
        let m = Message::parse(&bytes[HEADER..]).unwrap();
        assert_eq!(m.get("key"), Some("k"));
        assert!(Message::parse_header(b"12a   ").is_err());
        assert!(Message::parse_header(b"999999").is_err());
        assert!(Message::parse_header(b"\xff     ").is_err());
    }

    #[test]
    fn rejects_what_slurm_cannot_carry() {
        assert!(Message::new("kvs-put").arg("k", "a;b").encode().is_err());
        assert!(Message::new("kvs-put").arg("k=1", "v").encode().is_err());
        assert!(Message::new("kvs-put").arg("k;", "v").encode().is_err());
        assert!(Message::new("").encode().is_err());
        assert!(Message::new("p")
            .arg("v", "x".repeat(MAX_VALUE))
            .encode()
            .is_ok());
        assert!(Message::new("p")
            .arg("v", "x".repeat(MAX_VALUE + 1))
            .encode()
            .is_err());
        for bad in [
            &b""[..],
            b";",
            b"rc=0;cmd=x;",
            b"cmd=;",
            b"cmd=x;novalue;",
            b"cmd=x;=v;",
        ] {
            assert!(Message::parse(bad).is_err(), "accepted {bad:?}");
        }
    }
}
