//! Names of the files a job puts in /dev/shm. Every one starts with
//! `vmpi-<tag>-`, where the tag is derived from the PMI kvsname, so that a launcher can
//! remove whatever a crashed job left behind without knowing anything else about it.

/// A 16-hex-digit tag for a job, stable for a given kvsname (FNV-1a, 64 bit).
pub fn job_tag(kvsname: &str) -> String {
    format!("{:016x}", fnv64(kvsname.as_bytes()))
}

/// FNV-1a, 64 bit: a stable hash both sides of a job compute the same way.
pub fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The prefix of every /dev/shm file name of the job with this kvsname.
pub fn shm_prefix(kvsname: &str) -> String {
    format!("vmpi-{}-", job_tag(kvsname))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_is_stable_and_distinct() {
        assert_eq!(job_tag("kvs_1_0"), job_tag("kvs_1_0"));
        assert_ne!(job_tag("kvs_1_0"), job_tag("kvs_2_0"));
        assert_eq!(job_tag("x").len(), 16);
        assert!(shm_prefix("a").starts_with("vmpi-"));
    }
}
