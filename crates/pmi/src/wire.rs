//! PMI-1 wire format (placeholder until the launcher work lands).
