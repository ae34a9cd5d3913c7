//! A hostile length prefix is refused before anything is allocated for
//! it, and an announced length costs only the bytes that really arrive.
//!
//! A counting allocator records the largest allocation made by the test's
//! own thread, so that tests running in parallel do not disturb it.

use cbc_msg::frame::{self, LengthError, MAX_BODY, ReadError};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Read;

struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// only addition is a thread-local counter that does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(layout.size())));
        // SAFETY: the caller's contract is System's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(new_size)));
        // SAFETY: as for dealloc and alloc.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The largest allocation `f` made on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let value = f();
    (value, LARGEST.with(|l| l.get()))
}

/// A stream that gives `prefix`, then `then` bytes of zeros, then ends;
/// it counts what was read from it.
struct Peer {
    prefix: Vec<u8>,
    then: usize,
    read: usize,
}

impl Read for Peer {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let total = self.prefix.len() + self.then;
        let n = buf.len().min(total - self.read).min(4096);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = self.prefix.get(self.read + i).copied().unwrap_or(0);
        }
        self.read += n;
        Ok(n)
    }
}

#[test]
fn ffffffff_is_refused_after_four_bytes_without_allocating() {
    let mut peer = Peer {
        prefix: vec![0xff; 4],
        then: 1 << 20,
        read: 0,
    };
    let (result, largest) = largest_allocation(|| frame::read_body(&mut peer));
    match result {
        Err(ReadError::Length(LengthError::TooLong(u32::MAX))) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(peer.read, 4, "nothing past the prefix is read");
    assert!(largest < 1024, "allocated {largest} bytes");
    assert_eq!(
        frame::parse(&[0xff; 8]),
        Err(LengthError::TooLong(u32::MAX))
    );
}

#[test]
fn every_length_over_the_cap_is_refused() {
    for len in [MAX_BODY as u32 + 16, 1 << 24, 1 << 31, u32::MAX - 15] {
        let mut peer = Peer {
            prefix: len.to_be_bytes().to_vec(),
            then: 0,
            read: 0,
        };
        let (result, largest) = largest_allocation(|| frame::read_body(&mut peer));
        assert!(
            matches!(result, Err(ReadError::Length(LengthError::TooLong(l))) if l == len),
            "{len}: {result:?}"
        );
        assert!(largest < 1024, "{len}: allocated {largest} bytes");
    }
}

#[test]
fn an_announced_megabyte_that_never_comes_costs_little() {
    // The largest legal length, then only 100 bytes and the end.
    let mut peer = Peer {
        prefix: (MAX_BODY as u32).to_be_bytes().to_vec(),
        then: 100,
        read: 0,
    };
    let (result, largest) = largest_allocation(|| frame::read_body(&mut peer));
    assert!(
        matches!(result, Err(ReadError::Truncated { got: 104, .. })),
        "{result:?}"
    );
    assert!(largest <= 64 * 1024, "allocated {largest} bytes");
    assert!(
        largest >= 100,
        "the counter sees the body buffer ({largest})"
    );
}
