//! Allocation microbenchmark: each thread allocates `ITERS` vectors of 16 to
//! 527 bytes into a ring of 1024 (so frees happen out of order and sizes
//! vary), plus a `format!` every iteration. Prints the wall time in
//! milliseconds of the best-effort run: `alloc-bench THREADS [ITERS]`.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::Instant;

fn work(seed: u64, iters: u64) -> u64 {
    let mut ring: Vec<Vec<u8>> = (0..1024).map(|_| Vec::new()).collect();
    let mut sum = 0u64;
    let mut x = seed | 1;
    for i in 0..iters {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = 16 + (x % 512) as usize;
        let v = vec![(i & 0xff) as u8; len];
        sum = sum.wrapping_add(v[len / 2] as u64);
        ring[(i % 1024) as usize] = black_box(v);
        let s = format!("item {i} of {iters}");
        sum = sum.wrapping_add(black_box(s).len() as u64);
    }
    sum
}

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let iters: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| std::thread::spawn(move || work(0x9e37_79b9_7f4a_7c15 ^ t, iters)))
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    black_box(total);
    println!("{ms:.1}");
}
