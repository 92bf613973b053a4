//! FLV / Enhanced-RTMP tag bodies → decoder configurations and frames.

pub mod timeline;
