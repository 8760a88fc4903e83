//! The patched musl libc (mimalloc in place of musl's malloc, our string
//! functions on x86_64) must behave like musl's own for what real programs
//! do: threads, fork + exec, name lookup, environment, aligned allocations,
//! strdup, caught panics, overlapping copies. A static binary built by
//! `muslrust-chef build` with the default libc runs all of it, natively for
//! linux/amd64 and under qemu for linux/arm64; `inspect` must report the
//! allocator and string functions that were linked, and asking for musl's
//! own must give musl's own.

mod common;

use common::{Fixture, chef, run, run_for_platform};

const SANITY_MAIN: &str = r#"
use std::alloc::{alloc, dealloc, Layout};
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};

extern "C" {
    fn strdup(s: *const c_char) -> *mut c_char;
    fn free(p: *mut c_void);
    fn malloc(n: usize) -> *mut c_void;
    fn realloc(p: *mut c_void, n: usize) -> *mut c_void;
    fn posix_memalign(p: *mut *mut c_void, align: usize, n: usize) -> c_int;
    fn aligned_alloc(align: usize, n: usize) -> *mut c_void;
    fn getenv(name: *const c_char) -> *mut c_char;
    fn fork() -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn _exit(code: c_int) -> !;
}

fn threads() {
    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            std::thread::spawn(move || {
                let mut keep = Vec::new();
                let mut sum = 0u64;
                for i in 0..20_000u64 {
                    let v = vec![(t + i) as u8; 1 + (i as usize * 37 + t as usize) % 3000];
                    sum += v[v.len() - 1] as u64;
                    if i % 7 == 0 {
                        keep.push(v);
                    }
                }
                // Freed on another thread than the one that allocated.
                (sum, keep)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        let (s, keep) = h.join().unwrap();
        total += s + keep.len() as u64;
    }
    assert!(total > 0);
    println!("threads ok");
}

fn fork_and_exec() {
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", "echo exec-$((6*7))"])
        .output()
        .expect("spawns /bin/sh");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "exec-42");
    // fork while other threads hold allocations, allocate in the child.
    let t = std::thread::spawn(|| vec![1u8; 1 << 20]);
    let pid = unsafe { fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let v: Vec<String> = (0..1000).map(|i| format!("child {i}")).collect();
        let code = if v[999] == "child 999" { 0 } else { 1 };
        unsafe { _exit(code) };
    }
    let mut status = 0;
    assert_eq!(unsafe { waitpid(pid, &mut status, 0) }, pid);
    assert_eq!(status, 0, "child exit status");
    assert_eq!(t.join().unwrap().len(), 1 << 20);
    println!("fork+exec ok");
}

fn getaddrinfo() {
    use std::net::ToSocketAddrs;
    let addrs: Vec<_> = ("localhost", 80).to_socket_addrs().expect("resolves localhost").collect();
    assert!(addrs.iter().any(|a| a.ip().is_loopback()), "{addrs:?}");
    println!("getaddrinfo ok");
}

fn setenv() {
    for i in 0..200 {
        std::env::set_var(format!("MUSLRUST_CHEF_SANITY_{i}"), "x".repeat(i));
    }
    std::env::set_var("MUSLRUST_CHEF_SANITY", "value-1");
    std::env::set_var("MUSLRUST_CHEF_SANITY", "value-22");
    let name = CString::new("MUSLRUST_CHEF_SANITY").unwrap();
    let v = unsafe { CStr::from_ptr(getenv(name.as_ptr())) };
    assert_eq!(v.to_str().unwrap(), "value-22");
    assert_eq!(std::env::var("MUSLRUST_CHEF_SANITY_199").unwrap().len(), 199);
    println!("setenv ok");
}

fn aligned() {
    for shift in 3..=16 {
        let align = 1usize << shift;
        for size in [1usize, 24, align, 3 * align + 5] {
            let l = Layout::from_size_align(size, align).unwrap();
            let p = unsafe { alloc(l) };
            assert!(!p.is_null() && p as usize % align == 0);
            unsafe { p.write_bytes(0xab, size) };
            unsafe { dealloc(p, l) };
            let mut q = std::ptr::null_mut();
            assert_eq!(unsafe { posix_memalign(&mut q, align, size) }, 0);
            assert!(q as usize % align == 0);
            unsafe { free(q) };
            let r = unsafe { aligned_alloc(align, size.next_multiple_of(align)) };
            assert!(!r.is_null() && r as usize % align == 0);
            unsafe { free(r) };
        }
    }
    // realloc keeps contents while growing across size classes
    unsafe {
        let mut p = malloc(16) as *mut u8;
        for i in 0..16 { *p.add(i) = i as u8; }
        for n in [100, 5000, 1 << 20, 40] {
            p = realloc(p as *mut c_void, n) as *mut u8;
            for i in 0..16 { assert_eq!(*p.add(i), i as u8); }
        }
        free(p as *mut c_void);
    }
    println!("aligned ok");
}

fn strdup_works() {
    let s = CString::new("muslrust-chef strdup ".repeat(20)).unwrap();
    let d = unsafe { strdup(s.as_ptr()) };
    assert!(!d.is_null());
    assert_eq!(unsafe { CStr::from_ptr(d) }, s.as_c_str());
    unsafe { free(d as *mut c_void) };
    println!("strdup ok");
}

fn panics() {
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(|| {
        let v = vec![1, 2, 3];
        v[std::hint::black_box(7)]
    });
    assert!(r.is_err());
    let r = std::thread::spawn(|| panic!("in a thread")).join();
    assert!(r.is_err());
    let _ = std::panic::take_hook();
    println!("panics ok");
}

fn copies() {
    // Overlapping and unaligned copies through Rust (memmove/memcpy/memset).
    let base: Vec<u8> = (0..8192u32).map(|i| (i * 31 + 7) as u8).collect();
    for n in (0..300).chain([511, 512, 513, 1000, 2047, 2048, 2049, 3000]) {
        for (s, d) in [(0, 1), (1, 0), (3, 17), (17, 3), (5, 5 + n / 2), (5 + n / 2, 5), (0, 1000)] {
            let mut a = base.clone();
            a.copy_within(s..s + n, d);
            let mut b = base.clone();
            let tmp: Vec<u8> = base[s..s + n].iter().copied().collect();
            for i in 0..n { b[d + i] = tmp[i]; }
            assert_eq!(a, b, "copy_within n={n} s={s} d={d}");
        }
        let mut z = base.clone();
        z[3..3 + n].fill(0x5a);
        assert!(z[3..3 + n].iter().all(|&x| x == 0x5a) && z[..3] == base[..3] && z[3 + n..] == base[3 + n..]);
    }
    println!("copies ok");
}

fn main() {
    threads();
    fork_and_exec();
    getaddrinfo();
    setenv();
    aligned();
    strdup_works();
    panics();
    copies();
    println!("SANITY OK");
}
"#;

fn inspect_json(path: &std::path::Path) -> serde_json::Value {
    let r = run(chef().arg("inspect").arg("--json").arg(path));
    r.ok();
    serde_json::from_str(&r.stdout).expect("inspect --json prints JSON")
}

#[test]
fn default_libc_passes_the_sanity_suite_on_both_platforms() {
    if !common::require_musl_toolchains() {
        return;
    }
    let fx = Fixture::bin_crate("libc-sanity", SANITY_MAIN);
    let out = fx.path().join("out");
    run(chef()
        .arg("build")
        .arg("--path")
        .arg(fx.path())
        .args([
            "--release",
            "--platform",
            "linux/amd64,linux/arm64",
            "--out",
        ])
        .arg(&out))
    .ok();
    for (platform, dir, strings) in [
        ("linux/amd64", "linux-amd64", "fast"),
        // aarch64 keeps musl's optimized assembly string functions.
        ("linux/arm64", "linux-arm64", "musl"),
    ] {
        let exe = out.join(dir).join("libc-sanity");
        let report = inspect_json(&exe);
        assert_eq!(report["is_static"], true, "{platform}: {report}");
        assert_eq!(report["allocator"], "mimalloc", "{platform}: {report}");
        assert_eq!(
            report["rust_global_allocator"], false,
            "{platform}: {report}"
        );
        assert_eq!(report["string_functions"], strings, "{platform}: {report}");
        let r = run_for_platform(&exe, platform);
        assert!(
            r.status.success() && r.stdout.contains("SANITY OK"),
            "{platform}: sanity program failed ({}):\n{}\n{}",
            r.status,
            r.stdout,
            r.stderr
        );
        for line in [
            "threads ok",
            "fork+exec ok",
            "getaddrinfo ok",
            "setenv ok",
            "aligned ok",
            "strdup ok",
            "panics ok",
            "copies ok",
        ] {
            assert!(r.stdout.contains(line), "{platform}: missing {line:?}");
        }
    }
}

#[test]
fn musl_libc_on_request_and_own_global_allocator_kept() {
    if !common::require_musl_toolchains() {
        return;
    }
    // musl's own libc when asked for: inspect says so, and it still works.
    let fx = Fixture::bin_crate("libc-stock", SANITY_MAIN);
    let out = fx.path().join("out");
    run(chef()
        .arg("build")
        .arg("--path")
        .arg(fx.path())
        .args(["--release", "--platform", "linux/amd64"])
        .args(["--allocator", "musl", "--string-functions", "musl", "--out"])
        .arg(&out))
    .ok();
    let exe = out.join("libc-stock");
    let report = inspect_json(&exe);
    assert_eq!(report["allocator"], "musl", "{report}");
    assert_eq!(report["string_functions"], "musl", "{report}");
    let r = run_for_platform(&exe, "linux/amd64");
    assert!(r.stdout.contains("SANITY OK"), "{}\n{}", r.stdout, r.stderr);

    // A crate with its own #[global_allocator] keeps it; inspect says so.
    let own = Fixture::bin_crate(
        "own-alloc",
        r#"
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
struct Counting;
static COUNT: AtomicUsize = AtomicUsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 { COUNT.fetch_add(1, Ordering::Relaxed); System.alloc(l) }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) { System.dealloc(p, l) }
}
#[global_allocator]
static A: Counting = Counting;
fn main() {
    let v: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    println!("{} {}", v.len(), COUNT.load(Ordering::Relaxed) >= 100);
}
"#,
    );
    let out = own.path().join("out");
    run(chef()
        .arg("build")
        .arg("--path")
        .arg(own.path())
        .args(["--release", "--platform", "linux/amd64", "--out"])
        .arg(&out))
    .ok();
    let exe = out.join("own-alloc");
    let report = inspect_json(&exe);
    assert_eq!(report["rust_global_allocator"], true, "{report}");
    let r = run_for_platform(&exe, "linux/amd64");
    assert_eq!(r.stdout.trim(), "100 true", "{}", r.stderr);
}
