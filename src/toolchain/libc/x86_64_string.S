/*
 * memcpy, memmove, memset and memcmp for x86_64 musl, written for muslrust-chef.
 *
 * Why: musl's x86_64 memcpy is `rep movsq` plus a byte loop, which is slow
 * for the small copies Rust code makes all the time (moves of structs,
 * Vec growth, formatting). These use only SSE2 (the x86_64 baseline):
 *
 *  - n <= 128: every byte is loaded into registers before anything is
 *    stored, with overlapping unaligned loads from both ends (1, 2, 4, 8,
 *    16, 32, 64 or 128 bytes of loads cover any n in a size class). No
 *    loop, no byte tail, and overlap in either direction is harmless.
 *  - n > 128: the first and last 64 bytes are kept in registers, the
 *    destination is aligned to 16 and the middle is copied 64 bytes per
 *    iteration (forward, or backward when the destination starts inside
 *    the source), then the saved ends are stored.
 *  - large forward copies and large sets use `rep movsb` / `rep stosb`,
 *    which CPUs with ERMS/FSRM run at full cache-line speed.
 *
 * memcpy is memmove: the overlap check costs one compare on the large
 * path only, and it makes a memcpy called with overlapping buffers (a
 * C bug that exists in the wild) behave instead of corrupting data.
 */

#define REP_MOVSB_THRESHOLD 2048
#define REP_STOSB_THRESHOLD 2048

	.section .text.muslrust_chef_string,"ax",@progbits

	.globl memcpy
	.type memcpy,@function
	.globl memmove
	.type memmove,@function
	.p2align 6
memcpy:
memmove:
	mov	%rdi, %rax
	cmp	$16, %rdx
	jb	.Lmv_lt16
	cmp	$32, %rdx
	ja	.Lmv_gt32
	movdqu	(%rsi), %xmm0
	movdqu	-16(%rsi,%rdx), %xmm1
	movdqu	%xmm0, (%rdi)
	movdqu	%xmm1, -16(%rdi,%rdx)
	ret

.Lmv_lt16:
	cmp	$8, %edx
	jb	.Lmv_lt8
	mov	(%rsi), %rcx
	mov	-8(%rsi,%rdx), %r8
	mov	%rcx, (%rdi)
	mov	%r8, -8(%rdi,%rdx)
	ret
.Lmv_lt8:
	cmp	$4, %edx
	jb	.Lmv_lt4
	mov	(%rsi), %ecx
	mov	-4(%rsi,%rdx), %r8d
	mov	%ecx, (%rdi)
	mov	%r8d, -4(%rdi,%rdx)
	ret
.Lmv_lt4:
	cmp	$2, %edx
	jb	.Lmv_lt2
	movzwl	(%rsi), %ecx
	movzwl	-2(%rsi,%rdx), %r8d
	mov	%cx, (%rdi)
	mov	%r8w, -2(%rdi,%rdx)
	ret
.Lmv_lt2:
	test	%edx, %edx
	jz	.Lmv_ret
	movzbl	(%rsi), %ecx
	mov	%cl, (%rdi)
.Lmv_ret:
	ret

.Lmv_gt32:
	cmp	$64, %rdx
	ja	.Lmv_gt64
	movdqu	(%rsi), %xmm0
	movdqu	16(%rsi), %xmm1
	movdqu	-32(%rsi,%rdx), %xmm2
	movdqu	-16(%rsi,%rdx), %xmm3
	movdqu	%xmm0, (%rdi)
	movdqu	%xmm1, 16(%rdi)
	movdqu	%xmm2, -32(%rdi,%rdx)
	movdqu	%xmm3, -16(%rdi,%rdx)
	ret

.Lmv_gt64:
	cmp	$128, %rdx
	ja	.Lmv_gt128
	movdqu	(%rsi), %xmm0
	movdqu	16(%rsi), %xmm1
	movdqu	32(%rsi), %xmm2
	movdqu	48(%rsi), %xmm3
	movdqu	-64(%rsi,%rdx), %xmm4
	movdqu	-48(%rsi,%rdx), %xmm5
	movdqu	-32(%rsi,%rdx), %xmm6
	movdqu	-16(%rsi,%rdx), %xmm7
	movdqu	%xmm0, (%rdi)
	movdqu	%xmm1, 16(%rdi)
	movdqu	%xmm2, 32(%rdi)
	movdqu	%xmm3, 48(%rdi)
	movdqu	%xmm4, -64(%rdi,%rdx)
	movdqu	%xmm5, -48(%rdi,%rdx)
	movdqu	%xmm6, -32(%rdi,%rdx)
	movdqu	%xmm7, -16(%rdi,%rdx)
	ret

.Lmv_gt128:
	/* dst - src < n (unsigned): dst starts inside src, copy backward. */
	mov	%rdi, %rcx
	sub	%rsi, %rcx
	cmp	%rdx, %rcx
	jb	.Lmv_backward
	cmp	$REP_MOVSB_THRESHOLD, %rdx
	jae	.Lmv_rep

	/* Forward: keep the first 16 and the last 64 bytes of src. */
	movdqu	(%rsi), %xmm4
	movdqu	-64(%rsi,%rdx), %xmm5
	movdqu	-48(%rsi,%rdx), %xmm6
	movdqu	-32(%rsi,%rdx), %xmm7
	movdqu	-16(%rsi,%rdx), %xmm8
	lea	-64(%rdi,%rdx), %r9
	/* Advance both pointers by 1..16 so that dst is 16-aligned. */
	mov	%edi, %ecx
	and	$15, %ecx
	neg	%rcx
	add	$16, %rcx
	add	%rcx, %rdi
	add	%rcx, %rsi
	sub	%rcx, %rdx
	.p2align 4
.Lmv_fwd_loop:
	movdqu	(%rsi), %xmm0
	movdqu	16(%rsi), %xmm1
	movdqu	32(%rsi), %xmm2
	movdqu	48(%rsi), %xmm3
	movdqa	%xmm0, (%rdi)
	movdqa	%xmm1, 16(%rdi)
	movdqa	%xmm2, 32(%rdi)
	movdqa	%xmm3, 48(%rdi)
	add	$64, %rsi
	add	$64, %rdi
	sub	$64, %rdx
	cmp	$64, %rdx
	ja	.Lmv_fwd_loop
	movdqu	%xmm5, (%r9)
	movdqu	%xmm6, 16(%r9)
	movdqu	%xmm7, 32(%r9)
	movdqu	%xmm8, 48(%r9)
	movdqu	%xmm4, (%rax)
	ret

.Lmv_rep:
	mov	%rdx, %rcx
	rep movsb
	ret

.Lmv_backward:
	test	%rcx, %rcx
	jz	.Lmv_ret
	/* Keep the last 16 and the first 64 bytes of src. */
	movdqu	-16(%rsi,%rdx), %xmm4
	movdqu	(%rsi), %xmm5
	movdqu	16(%rsi), %xmm6
	movdqu	32(%rsi), %xmm7
	movdqu	48(%rsi), %xmm8
	lea	(%rdi,%rdx), %r11
	lea	(%rsi,%rdx), %r10
	mov	%r11, %r9
	/* Move both ends down by 0..15 so that the dst end is 16-aligned. */
	mov	%r9d, %ecx
	and	$15, %ecx
	sub	%rcx, %r9
	sub	%rcx, %r10
	sub	%rcx, %rdx
	.p2align 4
.Lmv_bwd_loop:
	movdqu	-16(%r10), %xmm0
	movdqu	-32(%r10), %xmm1
	movdqu	-48(%r10), %xmm2
	movdqu	-64(%r10), %xmm3
	movdqa	%xmm0, -16(%r9)
	movdqa	%xmm1, -32(%r9)
	movdqa	%xmm2, -48(%r9)
	movdqa	%xmm3, -64(%r9)
	sub	$64, %r10
	sub	$64, %r9
	sub	$64, %rdx
	cmp	$64, %rdx
	ja	.Lmv_bwd_loop
	movdqu	%xmm5, (%rdi)
	movdqu	%xmm6, 16(%rdi)
	movdqu	%xmm7, 32(%rdi)
	movdqu	%xmm8, 48(%rdi)
	movdqu	%xmm4, -16(%r11)
	ret
	.size memmove, .-memmove
	.size memcpy, .-memcpy

	.globl memset
	.type memset,@function
	.p2align 6
memset:
	mov	%rdi, %rax
	movzbl	%sil, %ecx
	movabs	$0x0101010101010101, %r8
	imul	%r8, %rcx
	cmp	$16, %rdx
	jb	.Lms_lt16
	movq	%rcx, %xmm0
	punpcklqdq %xmm0, %xmm0
	cmp	$32, %rdx
	ja	.Lms_gt32
	movdqu	%xmm0, (%rdi)
	movdqu	%xmm0, -16(%rdi,%rdx)
	ret

.Lms_lt16:
	cmp	$8, %edx
	jb	.Lms_lt8
	mov	%rcx, (%rdi)
	mov	%rcx, -8(%rdi,%rdx)
	ret
.Lms_lt8:
	cmp	$4, %edx
	jb	.Lms_lt4
	mov	%ecx, (%rdi)
	mov	%ecx, -4(%rdi,%rdx)
	ret
.Lms_lt4:
	cmp	$2, %edx
	jb	.Lms_lt2
	mov	%cx, (%rdi)
	mov	%cx, -2(%rdi,%rdx)
	ret
.Lms_lt2:
	test	%edx, %edx
	jz	.Lms_ret
	mov	%cl, (%rdi)
.Lms_ret:
	ret

.Lms_gt32:
	cmp	$64, %rdx
	ja	.Lms_gt64
	movdqu	%xmm0, (%rdi)
	movdqu	%xmm0, 16(%rdi)
	movdqu	%xmm0, -32(%rdi,%rdx)
	movdqu	%xmm0, -16(%rdi,%rdx)
	ret

.Lms_gt64:
	cmp	$128, %rdx
	ja	.Lms_gt128
	movdqu	%xmm0, (%rdi)
	movdqu	%xmm0, 16(%rdi)
	movdqu	%xmm0, 32(%rdi)
	movdqu	%xmm0, 48(%rdi)
	movdqu	%xmm0, -64(%rdi,%rdx)
	movdqu	%xmm0, -48(%rdi,%rdx)
	movdqu	%xmm0, -32(%rdi,%rdx)
	movdqu	%xmm0, -16(%rdi,%rdx)
	ret

.Lms_gt128:
	cmp	$REP_STOSB_THRESHOLD, %rdx
	jae	.Lms_rep
	/* Head and tail unaligned, the middle 64 bytes at a time, aligned. */
	movdqu	%xmm0, (%rdi)
	movdqu	%xmm0, -64(%rdi,%rdx)
	movdqu	%xmm0, -48(%rdi,%rdx)
	movdqu	%xmm0, -32(%rdi,%rdx)
	movdqu	%xmm0, -16(%rdi,%rdx)
	lea	16(%rdi), %r9
	and	$-16, %r9
	lea	-64(%rdi,%rdx), %r10
	.p2align 4
.Lms_loop:
	movdqa	%xmm0, (%r9)
	movdqa	%xmm0, 16(%r9)
	movdqa	%xmm0, 32(%r9)
	movdqa	%xmm0, 48(%r9)
	add	$64, %r9
	cmp	%r10, %r9
	jb	.Lms_loop
	ret

.Lms_rep:
	mov	%rdx, %rcx
	movzbl	%sil, %eax
	mov	%rdi, %r9
	rep stosb
	mov	%r9, %rax
	ret

	/* The marker `muslrust-chef inspect` looks for; it lives in the same
	 * section as the code, so it stays whenever the functions are linked
	 * (also after --gc-sections and strip). */
	.p2align 3
muslrust_chef_string_marker:
	.ascii "muslrust-chef fast string functions\0"
	.size memset, muslrust_chef_string_marker-memset

	/* memcmp: 16 bytes at a time with pcmpeqb/pmovmskb, the last 16 bytes
	 * compared overlapping; below 16 bytes a byte loop. Returns the
	 * difference of the first differing bytes (as unsigned char). */
	.globl memcmp
	.type memcmp,@function
	.p2align 4
memcmp:
	cmp	$16, %rdx
	jb	.Lmc_small
	xor	%ecx, %ecx
	.p2align 4
.Lmc_loop:
	movdqu	(%rdi,%rcx), %xmm0
	movdqu	(%rsi,%rcx), %xmm1
	pcmpeqb	%xmm1, %xmm0
	pmovmskb %xmm0, %eax
	xor	$0xffff, %eax
	jnz	.Lmc_diff
	add	$16, %rcx
	lea	16(%rcx), %r8
	cmp	%rdx, %r8
	jbe	.Lmc_loop
	lea	-16(%rdx), %rcx
	movdqu	(%rdi,%rcx), %xmm0
	movdqu	(%rsi,%rcx), %xmm1
	pcmpeqb	%xmm1, %xmm0
	pmovmskb %xmm0, %eax
	xor	$0xffff, %eax
	jnz	.Lmc_diff
	ret
.Lmc_diff:
	bsf	%eax, %eax
	add	%rcx, %rax
	movzbl	(%rdi,%rax), %ecx
	movzbl	(%rsi,%rax), %edx
	mov	%ecx, %eax
	sub	%edx, %eax
	ret
.Lmc_small:
	xor	%eax, %eax
	xor	%ecx, %ecx
	test	%rdx, %rdx
	jz	.Lmc_ret
.Lmc_byte:
	movzbl	(%rdi,%rcx), %eax
	movzbl	(%rsi,%rcx), %r8d
	sub	%r8d, %eax
	jnz	.Lmc_ret
	inc	%rcx
	cmp	%rdx, %rcx
	jb	.Lmc_byte
.Lmc_ret:
	ret
	.size memcmp, .-memcmp

	.section .note.GNU-stack,"",@progbits
