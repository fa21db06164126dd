//! A QEMU Machine Protocol client (JSON over a UNIX socket): the greeting, the
//! capabilities handshake, commands and their replies, and events that arrive
//! meanwhile (kept for [`Qmp::wait_event`]).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct Qmp {
    out: UnixStream,
    inp: BufReader<UnixStream>,
    events: Vec<Value>,
}

impl Qmp {
    /// Connect to the QMP socket at `path` and leave the greeting mode.
    pub fn connect(path: &Path) -> Result<Qmp, String> {
        let s = UnixStream::connect(path)
            .map_err(|e| format!("cannot connect to the QMP socket {}: {e}", path.display()))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| format!("QMP socket: {e}"))?;
        let inp = BufReader::new(s.try_clone().map_err(|e| format!("QMP socket: {e}"))?);
        let mut q = Qmp {
            out: s,
            inp,
            events: Vec::new(),
        };
        let hello = q.read()?;
        if hello.get("QMP").is_none() {
            return Err(format!(
                "{} does not speak QMP (greeting {hello})",
                path.display()
            ));
        }
        q.cmd("qmp_capabilities", json!({}))?;
        Ok(q)
    }

    fn read(&mut self) -> Result<Value, String> {
        let mut line = String::new();
        match self.inp.read_line(&mut line) {
            Ok(0) => Err("QEMU closed the QMP connection".into()),
            Ok(_) => {
                serde_json::from_str(&line).map_err(|e| format!("bad QMP message {line:?}: {e}"))
            }
            Err(e) => Err(format!("reading QMP: {e}")),
        }
    }

    /// Run `name` with `args`; its `return` value, or QEMU's error.
    pub fn cmd(&mut self, name: &str, args: Value) -> Result<Value, String> {
        let msg = if args.as_object().is_some_and(|o| o.is_empty()) {
            json!({ "execute": name })
        } else {
            json!({ "execute": name, "arguments": args })
        };
        writeln!(self.out, "{msg}").map_err(|e| format!("writing QMP: {e}"))?;
        loop {
            let r = self.read()?;
            if r.get("event").is_some() {
                self.events.push(r);
                continue;
            }
            if let Some(e) = r.get("error") {
                let desc = e.get("desc").and_then(Value::as_str).unwrap_or("?");
                return Err(format!("QEMU refused {name}: {desc}"));
            }
            return Ok(r.get("return").cloned().unwrap_or(Value::Null));
        }
    }

    /// Wait for event `name` whose data satisfies `pred`, up to `limit`.
    pub fn wait_event(
        &mut self,
        name: &str,
        limit: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value, String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(i) = self
                .events
                .iter()
                .position(|e| e["event"] == name && pred(&e["data"]))
            {
                return Ok(self.events.remove(i));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "no {name} event from QEMU within {} s",
                    limit.as_secs()
                ));
            }
            self.out
                .set_read_timeout(Some(left.max(Duration::from_millis(10))))
                .map_err(|e| format!("QMP socket: {e}"))?;
            match self.read() {
                Ok(v) if v.get("event").is_some() => self.events.push(v),
                Ok(_) => {}
                Err(e) if e.contains("timed out") || e.contains("Resource temporarily") => {}
                Err(e) => return Err(e),
            }
        }
    }
}
