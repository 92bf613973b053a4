//! ISO-BMFF box writers (being written).
