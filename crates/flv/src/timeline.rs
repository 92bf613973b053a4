//! 64-bit monotonic media timeline (placeholder, being written).
