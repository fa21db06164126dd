//! vmpi's tools: `vmpi-info` (what a rank sees) and `vmpi-admin` (the IVSHMEM
//! devices of plain QEMU/libvirt VMs). Shared pieces live here.

pub mod qmp;
