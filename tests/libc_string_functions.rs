//! Correctness of muslrust-chef's x86_64 memcpy/memmove/memset: the exact
//! assembly the tool links (`src/toolchain/libc/x86_64_string.S`) is
//! assembled with the host C compiler under other names and checked
//! against a byte-by-byte reference: every size 0..=1024 at every source and
//! destination alignment 0..=63, overlaps in both directions (near and far),
//! guard bytes around every destination, return values, then random and
//! large cases. Runs natively, so only on an x86_64 host.

mod common;

use std::process::Command;

const STRING_S: &str = include_str!("../src/toolchain/libc/x86_64_string.S");

const HARNESS_C: &str = r#"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *t_memcpy(void *, const void *, size_t);
void *t_memmove(void *, const void *, size_t);
void *t_memset(void *, int, size_t);
int t_memcmp(const void *, const void *, size_t);

#define MAXN 1024
#define PAD 128
#define WIN (2 * MAXN + 4 * PAD)

static unsigned long checks, fails;
static unsigned char src[WIN], dst[WIN], expect[WIN], tmp[1 << 23];

static unsigned char pat(size_t i, unsigned seed) {
  return (unsigned char)(i * 131u + seed * 77u + (i >> 8) + 1u);
}

/* The reference: plain byte loops through a temporary buffer. */
static void ref_move(unsigned char *d, const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n; i++) tmp[i] = s[i];
  for (size_t i = 0; i < n; i++) d[i] = tmp[i];
}

static void fail(const char *what, size_t n, long a, long b) {
  if (fails++ < 20) printf("FAIL %s n=%zu a=%ld b=%ld\n", what, n, a, b);
}

/* Only [lo, hi) is compared and restored after each call: it holds the
   destination and PAD guard bytes on each side. A stray write further out
   stays and is caught by the whole-buffer check at the end. */
static size_t lo_of(size_t at) { return at > PAD ? at - PAD : 0; }
static size_t hi_of(size_t end) { return end + PAD < WIN ? end + PAD : WIN; }

static void refill(unsigned char *buf, unsigned seed, size_t lo, size_t hi) {
  for (size_t i = lo; i < hi; i++) buf[i] = pat(i, seed);
}

static int whole(const unsigned char *buf, unsigned seed) {
  for (size_t i = 0; i < WIN; i++)
    if (buf[i] != pat(i, seed)) return 0;
  return 1;
}

/* memmove(dst + d, dst + s, n) against the reference. */
static void move_case(const char *what, size_t s, size_t d, size_t n) {
  size_t lo = lo_of(s < d ? s : d), hi = hi_of((s > d ? s : d) + n);
  memcpy(expect + lo, dst + lo, hi - lo);
  ref_move(expect + d, expect + s, n);
  void *r = t_memmove(dst + d, dst + s, n);
  checks++;
  if (r != dst + d || memcmp(dst + lo, expect + lo, hi - lo) != 0) fail(what, n, (long)s, (long)d);
  refill(dst, 2, lo, hi);
}

static void exhaustive(void) {
  refill(src, 1, 0, WIN);
  refill(dst, 2, 0, WIN);
  for (size_t n = 0; n <= MAXN; n++)
    for (int sa = 0; sa < 64; sa++)
      for (int da = 0; da < 64; da++) {
        /* memcpy between distinct buffers */
        size_t at = PAD + da, lo = lo_of(at), hi = hi_of(at + n);
        void *r = t_memcpy(dst + at, src + PAD + sa, n);
        checks++;
        int ok = r == dst + at;
        for (size_t i = lo; ok && i < hi; i++)
          ok = dst[i] == ((i >= at && i < at + n) ? src[PAD + sa + i - at] : pat(i, 2));
        if (!ok) fail("memcpy", n, sa, da);
        refill(dst, 2, lo, hi);
        /* memmove inside one buffer, less than 64 bytes apart, both ways */
        move_case("memmove near", PAD + sa, PAD + da, n);
      }
  /* far overlaps: the ranges share about half of their bytes */
  for (size_t n = 0; n <= MAXN; n++)
    for (int sa = 0; sa < 64; sa++) {
      size_t s = PAD + sa, d = s + n / 2 + 1;
      move_case("memmove far up", s, d, n);
      move_case("memmove far down", d, s, n);
    }
  /* memset; only the low byte of the value counts */
  for (size_t n = 0; n <= MAXN; n++)
    for (int da = 0; da < 64; da++)
      for (int c = 0; c < 3; c++) {
        int v = c == 0 ? 0 : c == 1 ? 0xa5 : 0x17f;
        size_t at = PAD + da, lo = lo_of(at), hi = hi_of(at + n);
        void *r = t_memset(dst + at, v, n);
        checks++;
        int ok = r == dst + at;
        for (size_t i = lo; ok && i < hi; i++)
          ok = dst[i] == ((i >= at && i < at + n) ? (unsigned char)v : pat(i, 2));
        if (!ok) fail("memset", n, da, v);
        refill(dst, 2, lo, hi);
      }
  /* memcmp: equal ranges, then one byte above or below at the start, the
     middle and the end (the sign is what counts) */
  for (size_t n = 0; n <= MAXN; n++)
    for (int sa = 0; sa < 64; sa++)
      for (int da = 0; da < 64; da += 5) {
        unsigned char *a = src + PAD + sa, *b = dst + PAD + da;
        memcpy(b, a, n);
        checks++;
        if (t_memcmp(a, b, n) != 0) fail("memcmp equal", n, sa, da);
        size_t pos[3] = {0, n / 2, n ? n - 1 : 0};
        for (int k = 0; k < 3 && n; k++) {
          unsigned char keep = b[pos[k]];
          b[pos[k]] = (unsigned char)(keep + 1);
          int want = keep == 255 ? 1 : -1; /* a < b unless keep + 1 wrapped */
          int got = t_memcmp(a, b, n);
          checks++;
          if ((got < 0 ? -1 : got > 0 ? 1 : 0) != want) fail("memcmp order", n, sa, (long)pos[k]);
          got = t_memcmp(b, a, n);
          checks++;
          if ((got < 0 ? -1 : got > 0 ? 1 : 0) != -want) fail("memcmp order (swapped)", n, sa, (long)pos[k]);
          b[pos[k]] = keep;
        }
        refill(dst, 2, PAD + da, PAD + da + n);
      }
  checks += 2;
  if (!whole(dst, 2)) fail("stray write (destination buffer)", 0, 0, 0);
  if (!whole(src, 1)) fail("stray write (source buffer)", 0, 0, 0);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
  rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng;
}

static unsigned char *big, *bigref;
#define BIG (1 << 22)

static size_t rand_size(void) {
  switch (next() % 4) {
  case 0: return next() % 256;
  case 1: return next() % 4096;
  case 2: return next() % 65536;
  default: return next() % (BIG / 2);
  }
}

static void random_cases(int rounds) {
  for (size_t i = 0; i < BIG; i++) big[i] = bigref[i] = (unsigned char)next();
  for (int k = 0; k < rounds; k++) {
    size_t n = rand_size();
    size_t s = next() % (BIG - n + 1), d = next() % (BIG - n + 1);
    if (next() % 2) { /* overlapping: d within n of s */
      size_t lo = s > n ? s - n : 0, hi = s + n < BIG - n ? s + n : BIG - n;
      d = lo + next() % (hi - lo + 1);
    }
    int op = next() % 3;
    void *r;
    size_t lo = d, hi = d + n;
    if (op == 0 && (d + n <= s || s + n <= d)) {
      ref_move(bigref + d, bigref + s, n);
      r = t_memcpy(big + d, big + s, n);
    } else if (op == 2) {
      int v = (int)(next() & 0xff);
      memset(bigref + d, v, n); /* host libc as the reference for big sets */
      r = t_memset(big + d, v, n);
    } else {
      ref_move(bigref + d, bigref + s, n);
      r = t_memmove(big + d, big + s, n);
    }
    checks++;
    size_t glo = lo > 256 ? lo - 256 : 0, ghi = hi + 256 < BIG ? hi + 256 : BIG;
    if (r != big + d || memcmp(big + glo, bigref + glo, ghi - glo) != 0) {
      fail("random", n, (long)s, (long)d);
      memcpy(big, bigref, BIG);
    }
  }
  checks++;
  if (memcmp(big, bigref, BIG) != 0) fail("random (whole buffer)", BIG, 0, 0);
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 20000;
  big = malloc(BIG);
  bigref = malloc(BIG);
  if (!big || !bigref) return 2;
  exhaustive();
  random_cases(rounds);
  printf("checks=%lu fails=%lu\n", checks, fails);
  return fails != 0;
}
"#;

#[test]
fn x86_64_string_functions_match_a_byte_reference() {
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("SKIPPED: the x86_64 string functions run natively on an x86_64 host only");
        return;
    }
    let cc = ["cc", "gcc", "clang"].into_iter().find(|c| common::have(c));
    if !common::require("a host C compiler", cc.is_some(), "apt-get install gcc") {
        return;
    }
    let cc = cc.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("string.S");
    let c = dir.path().join("harness.c");
    let exe = dir.path().join("harness");
    std::fs::write(&s, STRING_S).unwrap();
    std::fs::write(&c, HARNESS_C).unwrap();
    let out = common::run(
        Command::new(cc)
            .args([
                "-O2",
                "-Dmemcpy=t_memcpy",
                "-Dmemmove=t_memmove",
                "-Dmemset=t_memset",
                "-Dmemcmp=t_memcmp",
            ])
            .arg(&s)
            .arg(&c)
            .arg("-o")
            .arg(&exe),
    );
    out.ok();
    let run = common::run(Command::new(&exe).arg("20000"));
    run.ok();
    // 1025 sizes x 64 x 64 alignments x 2, far overlaps, memset, random.
    let checks: u64 = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("checks="))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the harness prints its count");
    assert!(checks > 8_600_000, "too few checks ran: {}", run.stdout);
    assert!(run.stdout.contains("fails=0"), "{}", run.stdout);
}

#[test]
fn the_harness_catches_a_broken_memmove() {
    // The same harness against a deliberately wrong memmove (a forward byte
    // copy, wrong when the destination starts inside the source) must fail:
    // a check that can't fail proves nothing.
    if std::env::consts::ARCH != "x86_64" || !common::have("cc") {
        eprintln!("SKIPPED: needs an x86_64 host with cc");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("harness.c");
    let broken = dir.path().join("broken.c");
    let exe = dir.path().join("harness");
    std::fs::write(&c, HARNESS_C).unwrap();
    std::fs::write(
        &broken,
        "#include <stddef.h>\n\
         void *t_memmove(void *d, const void *s, size_t n) { volatile unsigned char *D = d; const unsigned char *S = s; for (size_t i = 0; i < n; i++) D[i] = S[i]; return d; }\n\
         void *t_memcpy(void *d, const void *s, size_t n) { return t_memmove(d, s, n); }\n\
         void *t_memset(void *d, int c, size_t n) { volatile unsigned char *D = d; for (size_t i = 0; i < n; i++) D[i] = (unsigned char)c; return d; }\n\
         int t_memcmp(const void *a, const void *b, size_t n) { const unsigned char *A = a, *B = b; for (size_t i = 0; i < n; i++) if (A[i] != B[i]) return A[i] - B[i]; return 0; }\n",
    )
    .unwrap();
    common::run(
        Command::new("cc")
            .arg("-O2")
            .arg(&c)
            .arg(&broken)
            .arg("-o")
            .arg(&exe),
    )
    .ok();
    let run = common::run(Command::new(&exe).arg("100"));
    assert!(!run.status.success(), "{}", run.stdout);
    assert!(run.stdout.contains("FAIL memmove near"), "{}", run.stdout);
}
