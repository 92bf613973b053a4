//! HLS playlist writers (being written).
