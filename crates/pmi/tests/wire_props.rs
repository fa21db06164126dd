//! Property tests of the PMI wire parsers with arbitrary input: the PMI-1 line
//! parser and line splitter, and the PMI-2 header and body parser, return errors
//! for bad input and never panic or loop; what `encode` writes, `parse` reads back
//! unchanged (values with spaces and backslashes included).

use proptest::prelude::*;
use vmpi_pmi::wire::{Command, LineBuffer, MAX_LINE};
use vmpi_pmi::wire2::{Message, HEADER};

/// Printable text with the characters the escaping must survive.
fn value() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ -~é\\\\ ]{0,80}").unwrap()
}

fn key() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z_][a-zA-Z0-9_-]{0,15}").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn pmi1_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2200)) {
        let s = String::from_utf8_lossy(&bytes);
        if let Ok(c) = Command::parse(&s) {
            prop_assert!(!c.cmd.is_empty());
            prop_assert!(c.args.iter().all(|(k, _)| !k.is_empty()));
        }
    }

    #[test]
    fn pmi1_parse_of_near_lines(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("cmd=".to_string()), Just("=".to_string()), Just(" ".to_string()),
                Just("\\".to_string()), Just("\\ ".to_string()), Just("\n".to_string()),
                key(), value()
            ],
            0..30
        )
    ) {
        let line = parts.concat();
        let _ = Command::parse(&line);
    }

    #[test]
    fn pmi1_encode_parse_round_trip(
        cmd in key(),
        args in proptest::collection::vec((key(), value()), 0..8)
    ) {
        let mut c = Command::new(&cmd);
        for (k, v) in &args {
            c = c.arg(k, v);
        }
        match c.encode() {
            Ok(line) => {
                prop_assert!(line.len() <= MAX_LINE);
                prop_assert_eq!(line.matches('\n').count(), 1);
                prop_assert_eq!(Command::parse(&line).unwrap(), c);
            }
            Err(e) => prop_assert!(e.0.contains("exceeds"), "{}", e),
        }
    }

    #[test]
    fn line_buffer_never_holds_more_than_a_line(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..700), 0..20)
    ) {
        let mut b = LineBuffer::new();
        for c in &chunks {
            b.push(c);
            // Drain what is there: every call either yields a line, reports an
            // error (and drops the buffer), or says "need more"; it always ends.
            let mut steps = 0;
            loop {
                steps += 1;
                prop_assert!(steps <= c.len() + 2);
                match b.next_line() {
                    Ok(Some(l)) => prop_assert!(l.len() < MAX_LINE),
                    Ok(None) => break,
                    Err(_) => prop_assert_eq!(b.pending(), 0),
                }
            }
            prop_assert!(b.pending() < MAX_LINE);
        }
    }

    #[test]
    fn pmi2_parse_never_panics(
        header in proptest::collection::vec(any::<u8>(), HEADER),
        body in proptest::collection::vec(any::<u8>(), 0..1500)
    ) {
        let _ = Message::parse_header(&header);
        let _ = Message::parse(&body);
    }
}
