//! Zero heap allocations on the hot paths (W3 and the bounded-memory standard).

use crate::common::alloc::{assert_no_alloc, count};

#[test]
fn counting_allocator_sees_allocations() {
    let (n, bytes, v) = count(|| vec![1u8; 100]);
    assert!(
        n >= 1 && bytes >= 100,
        "the counter must see a Vec allocation"
    );
    drop(v);
    assert_no_alloc("nothing", || 1 + 1);
}
