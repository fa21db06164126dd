//! TCP channel (placeholder until the tcp branch lands; same API).
use super::{Packet, PacketChannel};
use crate::error::{Error, Result};
pub struct PeerAddr {
    pub card: String,
    pub same_netns: bool,
}
pub struct TcpTransport;
impl TcpTransport {
    pub fn new(_r: usize, _s: usize) -> Result<Self> {
        Ok(TcpTransport)
    }
    pub fn card(&self) -> String {
        "none".into()
    }
    pub fn set_peers(&mut self, _p: Vec<Option<PeerAddr>>) {}
    pub fn set_job_check(&mut self, _v: u64) {}
    pub fn shutdown(&mut self) {}
    pub fn has_pending_output(&self) -> bool {
        false
    }
}
impl PacketChannel for TcpTransport {
    fn max_payload(&self) -> usize {
        256 << 10
    }
    fn try_send(&mut self, p: usize, _h: &[u8], _d: &[u8]) -> Result<bool> {
        Err(Error::other(format!("tcp to {p} not merged")))
    }
    fn progress(&mut self) -> Result<()> {
        Ok(())
    }
    fn peek(&mut self, _p: usize) -> Result<Option<Packet<'_>>> {
        Ok(None)
    }
    fn consume(&mut self, _p: usize) {}
}
