//! String/format-heavy benchmark: each thread formats numbers and strings,
//! collects them, sorts, joins and splits them, and copies byte slices of
//! 1 to 4096 bytes (memcpy) and shifts small vectors (memmove).
//! `strings-bench THREADS [ITERS]` prints the wall time in milliseconds.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

fn work(seed: u64, iters: u64) -> u64 {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let src: Vec<u8> = (0..8192u32).map(|i| (i * 7) as u8).collect();
    let mut dst = vec![0u8; 8192];
    let mut names: Vec<String> = Vec::with_capacity(256);
    let mut shift: Vec<u64> = Vec::with_capacity(64);
    let mut sum = 0u64;
    for i in 0..iters {
        let r = next();
        let mut s = format!("user-{:08x}/{}/{:.3}", r, i, (r % 10_000) as f64 / 7.0);
        if r % 3 == 0 {
            s.push_str("-suffix-with-some-more-text");
        }
        let _ = write!(s, ":{}", i % 97);
        names.push(s);
        if names.len() == 256 {
            names.sort_unstable();
            let joined = names.join(",");
            let back: Vec<&str> = joined.split(',').collect();
            sum = sum.wrapping_add(back.len() as u64 + joined.len() as u64);
            let upper = joined.to_uppercase();
            sum = sum.wrapping_add(upper.len() as u64);
            names.clear();
        }
        // memcpy of varying sizes, mostly small
        let n = match r % 8 {
            0..=4 => (r >> 8) as usize % 64 + 1,
            5 | 6 => (r >> 8) as usize % 512 + 1,
            _ => (r >> 8) as usize % 4096 + 1,
        };
        let off = (r >> 32) as usize % 4096;
        dst[..n].copy_from_slice(&src[off..off + n]);
        sum = sum.wrapping_add(black_box(&dst)[n - 1] as u64);
        // memmove: insert at the front of a small vector
        if shift.len() == 60 {
            shift.truncate(1 + (r % 8) as usize);
        }
        shift.insert(0, r);
        sum = sum.wrapping_add(black_box(&shift)[0]);
    }
    sum
}

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let iters: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(500_000);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| std::thread::spawn(move || work(0x2545_f491_4f6c_dd1d ^ (t + 1), iters)))
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    black_box(total);
    println!("{ms:.1}");
}
