	.file	"<string>"
	.section	.ltext,"axl",@progbits
	.globl	grad_weight
	.p2align	4
	.type	grad_weight,@function
grad_weight:
	pushq	%rbp
	pushq	%r15
	pushq	%r14
	pushq	%r13
	pushq	%r12
	pushq	%rbx
	subq	$104, %rsp
	movq	%rcx, 24(%rsp)
	movq	%rsi, -120(%rsp)
	movq	200(%rsp), %r11
	movabsq	$-8608480567731124087, %rcx
	movq	%r11, %rax
	imulq	%rcx
	movq	%r8, -16(%rsp)
	testq	%r8, %r8
	jle	.LBB0_5
	movq	232(%rsp), %rcx
	cmpq	$0, 192(%rsp)
	setg	%al
	movq	%rcx, %r10
	testq	%rcx, %rcx
	setg	%cl
	andb	%al, %cl
	cmpb	$1, %cl
	jne	.LBB0_5
	cmpq	$14, %r11
	jle	.LBB0_3
	movq	184(%rsp), %rbx
	movq	168(%rsp), %r15
	addq	%r11, %rdx
	movq	%rdx, %rax
	shrq	$63, %rax
	sarq	$3, %rdx
	addq	%rax, %rdx
	movq	%rdx, 64(%rsp)
	leaq	(,%r10,4), %r12
	leaq	(%r12,%r12,2), %rbp
	movq	%r10, %rdx
	shlq	$4, %rdx
	leaq	(,%r10,8), %rax
	leaq	(%rax,%rax,2), %rcx
	movq	%rcx, -104(%rsp)
	leaq	(%r10,%r10,8), %rcx
	leaq	(%rcx,%rcx,2), %rcx
	addq	%r10, %rcx
	movq	%rcx, -40(%rsp)
	movq	%r10, %rcx
	shlq	$5, %rcx
	movq	%rcx, -72(%rsp)
	leaq	(%rax,%rax,4), %rax
	movq	%rax, -80(%rsp)
	movq	%r10, %rax
	imulq	%rbx, %rax
	movq	%rax, %rcx
	imulq	176(%rsp), %rcx
	shlq	$2, %rcx
	movq	%rcx, -32(%rsp)
	shlq	$2, %rax
	movq	%rax, 48(%rsp)
	addq	$56, %rdi
	movq	160(%rsp), %rax
	imulq	%r15, %rax
	imulq	%rax, %r9
	shlq	$2, %r9
	movq	%r9, -24(%rsp)
	movq	%rdx, %r9
	movq	224(%rsp), %rcx
	imulq	%rax, %rcx
	shlq	$2, %rcx
	movq	%rcx, 8(%rsp)
	imulq	208(%rsp), %rax
	shlq	$2, %rax
	movq	%rax, 40(%rsp)
	imulq	216(%rsp), %r15
	shlq	$2, %r15
	imulq	$44, %r10, %rdx
	leaq	(%r9,%r9,2), %rcx
	movq	%rcx, -88(%rsp)
	imulq	$52, %r10, %rax
	movq	%rax, -96(%rsp)
	imulq	$56, %r10, %r8
	xorl	%eax, %eax
	movq	%r9, -64(%rsp)
	movq	%rdx, -48(%rsp)
	movq	%r8, 56(%rsp)
	jmp	.LBB0_7
	.p2align	4
.LBB0_14:
	movq	%r9, %r10
	movq	-8(%rsp), %rax
	incq	%rax
	movq	-32(%rsp), %rcx
	addq	%rcx, -120(%rsp)
	movq	(%rsp), %rdi
	addq	-24(%rsp), %rdi
	cmpq	-16(%rsp), %rax
	jge	.LBB0_5
.LBB0_7:
	movq	%rax, -8(%rsp)
	movq	%rdi, (%rsp)
	movq	%rdi, -128(%rsp)
	xorl	%ecx, %ecx
	leaq	(%r12,%r12,4), %rdi
	movq	%r10, %r9
	movq	%rdi, 72(%rsp)
	jmp	.LBB0_8
	.p2align	4
.LBB0_13:
	movq	16(%rsp), %rcx
	incq	%rcx
	movq	-128(%rsp), %rax
	addq	8(%rsp), %rax
	movq	%rax, -128(%rsp)
	cmpq	192(%rsp), %rcx
	movq	200(%rsp), %r11
	jge	.LBB0_14
.LBB0_8:
	movq	%rcx, 16(%rsp)
	imulq	%r11, %rcx
	movq	%rcx, 80(%rsp)
	movq	-120(%rsp), %rax
	movq	%rax, -112(%rsp)
	xorl	%eax, %eax
	movq	-104(%rsp), %r14
	jmp	.LBB0_9
	.p2align	4
.LBB0_12:
	movq	32(%rsp), %rax
	addq	$16, %rax
	addq	$64, -112(%rsp)
	cmpq	%r9, %rax
	jge	.LBB0_13
.LBB0_9:
	movq	24(%rsp), %rcx
	movq	%rax, 32(%rsp)
	leaq	(%rcx,%rax,4), %rax
	movq	%rax, 88(%rsp)
	movq	-128(%rsp), %rax
	movq	%rax, -56(%rsp)
	xorl	%esi, %esi
	movq	-72(%rsp), %rcx
	movq	-80(%rsp), %r13
	movq	-88(%rsp), %r10
	movq	-96(%rsp), %rax
	movq	-64(%rsp), %r11
	jmp	.LBB0_10
	.p2align	4
.LBB0_11:
	vmovups	%zmm0, (%r8)
	movq	232(%rsp), %r9
	vmovups	%zmm1, (%r8,%r9,4)
	vmovups	%zmm2, (%r8,%r9,8)
	leaq	(%r12,%r12,2), %rbp
	vmovups	%zmm3, (%r8,%rbp)
	movq	-64(%rsp), %r11
	vmovups	%zmm4, (%r8,%r11)
	leaq	(%r12,%r12,4), %rdi
	vmovups	%zmm5, (%r8,%rdi)
	movq	-104(%rsp), %r14
	vmovups	%zmm6, (%r8,%r14)
	movq	-40(%rsp), %rax
	vmovups	%zmm7, (%r8,%rax)
	movq	-72(%rsp), %rcx
	vmovups	%zmm8, (%r8,%rcx)
	leaq	(%r12,%r12,8), %rdx
	vmovups	%zmm9, (%r8,%rdx)
	movq	-80(%rsp), %r13
	vmovups	%zmm10, (%r8,%r13)
	movq	-48(%rsp), %rdx
	vmovups	%zmm11, (%r8,%rdx)
	movq	-88(%rsp), %r10
	vmovups	%zmm12, (%r8,%r10)
	movq	-96(%rsp), %rax
	vmovups	%zmm13, (%r8,%rax)
	movq	56(%rsp), %rsi
	vmovups	%zmm14, (%r8,%rsi)
	movq	%rsi, %r8
	movq	96(%rsp), %rsi
	incq	%rsi
	addq	$60, -56(%rsp)
	cmpq	64(%rsp), %rsi
	jge	.LBB0_12
.LBB0_10:
	movq	%rsi, 96(%rsp)
	leaq	(%rsi,%rsi,4), %rdx
	leaq	(%rdx,%rdx,2), %rdx
	addq	80(%rsp), %rdx
	imulq	%r9, %rdx
	movq	%r9, %rdi
	movq	88(%rsp), %r9
	vmovups	(%r9,%rdx,4), %zmm0
	movq	%r8, %rsi
	leaq	(%r9,%rdx,4), %r8
	vmovups	(%r8,%rdi,4), %zmm1
	vmovups	(%r8,%rdi,8), %zmm2
	vmovups	(%rbp,%r8), %zmm3
	vmovups	(%r11,%r8), %zmm4
	movq	72(%rsp), %rdx
	vmovups	(%rdx,%r8), %zmm5
	vmovups	(%r14,%r8), %zmm6
	movq	-40(%rsp), %rdx
	vmovups	(%rdx,%r8), %zmm7
	vmovups	(%rcx,%r8), %zmm8
	leaq	(%r12,%r12,8), %rcx
	vmovups	(%rcx,%r8), %zmm9
	vmovups	(%r13,%r8), %zmm10
	movq	-48(%rsp), %rcx
	vmovups	(%rcx,%r8), %zmm11
	vmovups	(%r10,%r8), %zmm12
	vmovups	(%rax,%r8), %zmm13
	vmovups	(%rsi,%r8), %zmm14
	movq	176(%rsp), %r14
	testq	%r14, %r14
	jle	.LBB0_11
	testq	%rbx, %rbx
	movq	48(%rsp), %rax
	movq	40(%rsp), %rcx
	jle	.LBB0_11
	movq	-56(%rsp), %r11
	movq	-112(%rsp), %r10
	xorl	%edx, %edx
	.p2align	4
.LBB0_17:
	movq	%r11, %r9
	movq	%r10, %rdi
	xorl	%ebp, %ebp
	.p2align	4
.LBB0_18:
	vmovups	(%rdi), %zmm15
	vfmadd231ps	-56(%r9){1to16}, %zmm15, %zmm0
	vfmadd231ps	-52(%r9){1to16}, %zmm15, %zmm1
	vfmadd231ps	-48(%r9){1to16}, %zmm15, %zmm2
	vfmadd231ps	-44(%r9){1to16}, %zmm15, %zmm3
	vfmadd231ps	-40(%r9){1to16}, %zmm15, %zmm4
	vfmadd231ps	-36(%r9){1to16}, %zmm15, %zmm5
	vfmadd231ps	-32(%r9){1to16}, %zmm15, %zmm6
	vfmadd231ps	-28(%r9){1to16}, %zmm15, %zmm7
	vfmadd231ps	-24(%r9){1to16}, %zmm15, %zmm8
	vfmadd231ps	-20(%r9){1to16}, %zmm15, %zmm9
	vfmadd231ps	-16(%r9){1to16}, %zmm15, %zmm10
	vfmadd231ps	-12(%r9){1to16}, %zmm15, %zmm11
	vfmadd231ps	-8(%r9){1to16}, %zmm15, %zmm12
	vfmadd231ps	-4(%r9){1to16}, %zmm15, %zmm13
	vfmadd231ps	(%r9){1to16}, %zmm15, %zmm14
	incq	%rbp
	addq	%r12, %rdi
	addq	%r15, %r9
	cmpq	%rbx, %rbp
	jl	.LBB0_18
	incq	%rdx
	addq	%rax, %r10
	addq	%rcx, %r11
	cmpq	%r14, %rdx
	jl	.LBB0_17
	jmp	.LBB0_11
.LBB0_3:
	xorl	%eax, %eax
	.p2align	4
.LBB0_4:
	addq	$16, %rax
	cmpq	%r10, %rax
	jl	.LBB0_4
.LBB0_5:
	addq	$104, %rsp
	popq	%rbx
	popq	%r12
	popq	%r13
	popq	%r14
	popq	%r15
	popq	%rbp
	vzeroupper
	retq
.Lfunc_end0:
	.size	grad_weight, .Lfunc_end0-grad_weight

	.section	".note.GNU-stack","",@progbits
