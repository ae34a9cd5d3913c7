//! The global allocator: the system's, plus a hint for transparent huge
//! pages on large blocks.
//!
//! A floodme message is one allocation of its whole size (tungstenite
//! reserves the frame's length, then reads into it). With 4 KiB pages the
//! kernel takes one page fault per 4 KiB the first time the block is
//! written: 65,536 faults for 256 MiB, which cost more than the data copy
//! itself. `madvise(MADV_HUGEPAGE)` lets the kernel back the block with
//! 2 MiB pages instead (when `/sys/kernel/mm/transparent_hugepage/enabled`
//! is `madvise` or `always`), 512 times fewer faults. It changes nothing
//! else: where huge pages are off or unavailable the call fails and is
//! ignored, and the memory is the same memory.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks from this size on get the hint: a few huge pages' worth, so that
/// ordinary allocations never pay for a system call.
const LARGE: usize = 8 << 20;

#[derive(Debug)]
pub struct HugePageHint;

// SAFETY: every call is forwarded to `System` unchanged; `advise` only
// gives the kernel a hint about memory the block already owns.
unsafe impl GlobalAlloc for HugePageHint {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc`, passed on.
        let block = unsafe { System.alloc(layout) };
        advise(block, layout.size());
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let block = unsafe { System.alloc_zeroed(layout) };
        advise(block, layout.size());
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(block, layout) }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc`, passed on.
        let block = unsafe { System.realloc(block, layout, new_size) };
        advise(block, new_size);
        block
    }
}

/// `madvise(MADV_HUGEPAGE)` on the whole 4 KiB pages inside a large block.
fn advise(block: *mut u8, size: usize) {
    const PAGE: usize = 4096;
    if block.is_null() || size < LARGE {
        return;
    }
    let start = (block as usize).next_multiple_of(PAGE);
    let end = (block as usize + size) & !(PAGE - 1);
    if end > start {
        // SAFETY: [start, end) lies inside the block just allocated, which
        // this process owns; MADV_HUGEPAGE changes no content, and its
        // failure (huge pages off) is harmless. Linux's hint only: elsewhere
        // the block is left as the system allocates it.
        #[cfg(target_os = "linux")]
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}
