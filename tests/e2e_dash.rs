mod common;

#[test]
fn stub() {
    let _ = common::assets::small_av(30);
}
