//! The hints a file understands (MPI-3.1 §13.2.8 and ROMIO's names), with their
//! defaults. Unknown keys are ignored, as the standard allows; the values in use
//! are what MPI_File_get_info reports.

/// enable / disable / automatic (ROMIO's romio_cb_* and romio_ds_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    Enable,
    Disable,
    Automatic,
}

impl Switch {
    fn parse(v: &str) -> Option<Switch> {
        match v.trim().to_ascii_lowercase().as_str() {
            "enable" | "true" => Some(Switch::Enable),
            "disable" | "false" => Some(Switch::Disable),
            "automatic" => Some(Switch::Automatic),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Switch::Enable => "enable",
            Switch::Disable => "disable",
            Switch::Automatic => "automatic",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Hints {
    /// Bytes an aggregator moves per round of a collective access.
    pub cb_buffer_size: usize,
    /// Aggregators asked for; None: one per shared-memory domain.
    pub cb_nodes: Option<usize>,
    pub cb_read: Switch,
    pub cb_write: Switch,
    pub ds_read: Switch,
    pub ds_write: Switch,
    /// Largest span one data-sieving read / write covers.
    pub ind_rd_buffer_size: usize,
    pub ind_wr_buffer_size: usize,
    /// Accepted and reported (POSIX file systems do not stripe); a striping_unit
    /// also aligns the aggregators' file domains.
    pub striping_factor: Option<i64>,
    pub striping_unit: Option<i64>,
}

impl Default for Hints {
    fn default() -> Self {
        Hints {
            cb_buffer_size: 16 << 20,
            cb_nodes: None,
            cb_read: Switch::Automatic,
            cb_write: Switch::Automatic,
            ds_read: Switch::Automatic,
            ds_write: Switch::Automatic,
            ind_rd_buffer_size: 4 << 20,
            ind_wr_buffer_size: 512 << 10,
            striping_factor: None,
            striping_unit: None,
        }
    }
}

fn positive(v: &str) -> Option<i64> {
    v.trim().parse::<i64>().ok().filter(|&n| n > 0)
}

impl Hints {
    /// Take one (key, value) pair; a value that does not parse is ignored.
    pub fn set(&mut self, key: &str, val: &str) {
        match key {
            "cb_buffer_size" => {
                if let Some(n) = positive(val) {
                    self.cb_buffer_size = n as usize;
                }
            }
            "cb_nodes" => {
                if let Some(n) = positive(val) {
                    self.cb_nodes = Some(n as usize);
                }
            }
            "romio_cb_read" => self.cb_read = Switch::parse(val).unwrap_or(self.cb_read),
            "romio_cb_write" => self.cb_write = Switch::parse(val).unwrap_or(self.cb_write),
            "romio_ds_read" => self.ds_read = Switch::parse(val).unwrap_or(self.ds_read),
            "romio_ds_write" => self.ds_write = Switch::parse(val).unwrap_or(self.ds_write),
            "ind_rd_buffer_size" => {
                if let Some(n) = positive(val) {
                    self.ind_rd_buffer_size = n as usize;
                }
            }
            "ind_wr_buffer_size" => {
                if let Some(n) = positive(val) {
                    self.ind_wr_buffer_size = n as usize;
                }
            }
            "striping_factor" => self.striping_factor = positive(val).or(self.striping_factor),
            "striping_unit" => self.striping_unit = positive(val).or(self.striping_unit),
            _ => {}
        }
    }

    /// The hints in use, as MPI_File_get_info reports them; `aggregators` is the
    /// number of aggregators the file really has.
    pub fn pairs(&self, aggregators: usize) -> Vec<(String, String)> {
        let mut v = vec![
            ("cb_buffer_size".into(), self.cb_buffer_size.to_string()),
            ("cb_nodes".into(), aggregators.to_string()),
            ("romio_cb_read".into(), self.cb_read.name().into()),
            ("romio_cb_write".into(), self.cb_write.name().into()),
            ("romio_ds_read".into(), self.ds_read.name().into()),
            ("romio_ds_write".into(), self.ds_write.name().into()),
            (
                "ind_rd_buffer_size".into(),
                self.ind_rd_buffer_size.to_string(),
            ),
            (
                "ind_wr_buffer_size".into(),
                self.ind_wr_buffer_size.to_string(),
            ),
        ];
        if let Some(f) = self.striping_factor {
            v.push(("striping_factor".into(), f.to_string()));
        }
        if let Some(u) = self.striping_unit {
            v.push(("striping_unit".into(), u.to_string()));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_parse_and_report() {
        let mut h = Hints::default();
        h.set("cb_buffer_size", "1048576");
        h.set("cb_nodes", "0"); // not positive: ignored
        h.set("romio_cb_write", "DISABLE");
        h.set("striping_unit", "65536");
        h.set("no_such_hint", "x");
        assert_eq!(h.cb_buffer_size, 1 << 20);
        assert_eq!(h.cb_nodes, None);
        assert_eq!(h.cb_write, Switch::Disable);
        let p = h.pairs(3);
        assert!(p.contains(&("cb_nodes".into(), "3".into())));
        assert!(p.contains(&("romio_cb_write".into(), "disable".into())));
        assert!(p.contains(&("striping_unit".into(), "65536".into())));
        assert!(!p.iter().any(|(k, _)| k == "striping_factor"));
    }
}
