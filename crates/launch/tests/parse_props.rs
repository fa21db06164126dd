//! Property tests of the launcher's input parsers with arbitrary input: host
//! entries (`-hosts`), host files, the command line. Bad input is an error that
//! names where it came from, never a panic; slot counts of any size are counted,
//! never expanded, so placing a few ranks on huge hosts is immediate.

use proptest::prelude::*;
use vmpi_launch::cli::{self, Action, MAX_RANKS};
use vmpi_launch::hosts::{self, HostSlots};

fn host_name() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::string::string_regex("[a-z][a-z0-9.-]{0,20}").unwrap(),
        Just("::1".to_string()),
        Just("127.0.0.1".to_string()),
    ]
}

fn slots() -> impl Strategy<Value = usize> {
    prop_oneof![1usize..10, 1usize..=usize::MAX]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn host_entry_never_panics(s in any::<String>()) {
        if let Ok(h) = hosts::parse_entry(&s, "host list") {
            prop_assert!(!h.name.is_empty() && h.slots >= 1, "{:?} -> {:?}", s, h);
        }
    }

    #[test]
    fn host_entry_near_misses(
        parts in proptest::collection::vec(
            prop_oneof![
                Just(":".to_string()), Just("[".to_string()), Just("]".to_string()),
                Just("::1".to_string()), Just("0".to_string()), Just(" ".to_string()),
                Just("99999999999999999999999".to_string()),
                host_name(), (0u64..u64::MAX).prop_map(|n| n.to_string())
            ],
            0..8
        )
    ) {
        let s = parts.concat();
        match hosts::parse_entry(&s, "host list") {
            Ok(h) => prop_assert!(!h.name.is_empty() && h.slots >= 1),
            Err(e) => prop_assert!(e.starts_with("host list: "), "{}", e),
        }
    }

    #[test]
    fn hostfile_never_panics(text in any::<String>()) {
        match hosts::parse_hostfile(&text, "hf") {
            Ok(l) => prop_assert!(!l.is_empty() && l.iter().all(|h| h.slots >= 1)),
            Err(e) => prop_assert!(e.starts_with("host file hf"), "{}", e),
        }
    }

    #[test]
    fn hostfile_round_trip(
        entries in proptest::collection::vec((host_name(), slots(), 0u8..3), 1..20)
    ) {
        let mut text = String::from("# generated\n");
        for (name, n, form) in &entries {
            let name_n = if name.contains(':') { format!("[{name}]") } else { name.clone() };
            text += &match form {
                0 => format!("{name_n}:{n}\n"),
                1 => format!("  {name} slots={n}   # comment\n"),
                _ => format!("{name}\n\n"),
            };
        }
        let got = hosts::parse_hostfile(&text, "hf").unwrap();
        let want: Vec<HostSlots> = entries
            .iter()
            .map(|(name, n, form)| HostSlots {
                name: name.clone(),
                slots: if *form == 2 { 1 } else { *n },
            })
            .collect();
        prop_assert_eq!(got, want);
        // A trailing word on any line is an error naming the file and line.
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines[1] = match lines[1].split_once('#') {
            Some((a, b)) => format!("{a} extra #{b}"),
            None => format!("{} extra", lines[1]),
        };
        let bad = lines.join("\n");
        let e = hosts::parse_hostfile(&bad, "hf").unwrap_err();
        prop_assert!(e.contains("host file hf, line 2"), "{}", e);
    }

    #[test]
    fn placement_is_cheap_for_any_slot_count(
        list in proptest::collection::vec((host_name(), slots()), 1..10),
        np in 1usize..500,
        ppn in proptest::option::of(slots())
    ) {
        let list: Vec<HostSlots> = list
            .into_iter()
            .map(|(name, slots)| HostSlots { name, slots })
            .collect();
        let placed = hosts::assign(&list, np, ppn);
        prop_assert_eq!(placed.len(), np);
        prop_assert!(placed.iter().all(|h| list.iter().any(|l| &l.name == h)));
        // The first host takes ranks up to its slot count (or ppn).
        let first = ppn.unwrap_or(list[0].slots).min(np);
        prop_assert!(placed[..first].iter().all(|h| h == &list[0].name));
        prop_assert!(hosts::total_slots(&list, ppn) >= 1);
    }

    #[test]
    fn command_line_never_panics(
        args in proptest::collection::vec(
            prop_oneof![
                Just("-np".to_string()), Just("-n".to_string()), Just("-ppn".to_string()),
                Just("-hosts".to_string()), Just("-f".to_string()), Just("-genv".to_string()),
                Just("--timeout".to_string()), Just("-l".to_string()), Just("true".to_string()),
                Just("99999999999999999999".to_string()), Just("0".to_string()),
                Just("A=1".to_string()), host_name(), any::<String>(),
                (0usize..usize::MAX).prop_map(|n| n.to_string())
            ],
            0..10
        ),
        timeout in proptest::option::of(any::<String>())
    ) {
        if let Ok(Action::Run(o)) = cli::parse(&args, timeout.as_deref()) {
            prop_assert!(o.np.is_none_or(|n| (1..=MAX_RANKS).contains(&n)));
            prop_assert!(o.ppn.is_none_or(|n| n >= 1));
            prop_assert!(!o.program.is_empty() || args.contains(&String::new()));
        }
    }
}
