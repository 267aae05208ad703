/* LD_PRELOAD shim: make CPUID report an AVX2-only x86-64 CPU (no AVX-512, no VNNI, no AMX),
 * so that XNNPACK (which picks its kernels from CPUID through cpuinfo) runs its AVX2 kernels
 * on an AVX-512 machine. Linux ARCH_SET_CPUID makes the CPUID instruction fault (needs the
 * cpuid_fault CPU flag); the SIGSEGV handler executes the real CPUID with faulting switched
 * off, clears the feature bits and skips the instruction.
 *   gcc -O2 -shared -fPIC -o avx2only.so avx2only.c
 *   LD_PRELOAD=./avx2only.so python ...
 * Only CPUID issued after the library loads is affected (glibc's own string-function choice
 * is made earlier and stays as it is); XGETBV is not affected, which is fine because cpuinfo
 * only looks at the AVX-512 state bits when CPUID reports AVX-512. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#include <asm/prctl.h>

static void set_fault(int on) { syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1); }

static void handler(int sig, siginfo_t *si, void *ctx_) {
  ucontext_t *ctx = (ucontext_t *)ctx_;
  greg_t *g = ctx->uc_mcontext.gregs;
  uint8_t *ip = (uint8_t *)g[REG_RIP];
  if (!(ip[0] == 0x0f && ip[1] == 0xa2)) { signal(SIGSEGV, SIG_DFL); raise(SIGSEGV); return; }
  uint32_t leaf = (uint32_t)g[REG_RAX], sub = (uint32_t)g[REG_RCX], a, b, c, d;
  set_fault(0);
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(sub));
  set_fault(1);
  if (leaf == 7 && sub == 0) {
    b &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) |
           (1u << 30) | (1u << 31));                              /* AVX512 F DQ IFMA PF ER CD BW VL */
    c &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));  /* VBMI VBMI2 VNNI BITALG VPOPCNTDQ */
    d &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25)); /* 4VNNIW 4FMAPS VP2INTERSECT AMX-BF16 FP16 AMX-TILE AMX-INT8 */
  } else if (leaf == 7 && sub == 1) {
    a &= ~((1u << 4) | (1u << 5) | (1u << 23));                   /* AVX-VNNI AVX512-BF16 AVX-IFMA */
    d &= ~((1u << 4) | (1u << 5));                                /* AVX-VNNI-INT8 AVX-NE-CONVERT */
  } else if (leaf == 0xd && sub == 0) {
    a &= ~(0xe0u | (3u << 17));                                   /* no AVX-512 / AMX state */
  }
  g[REG_RAX] = a; g[REG_RBX] = b; g[REG_RCX] = c; g[REG_RDX] = d;
  g[REG_RIP] += 2;
}

__attribute__((constructor)) static void init(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
    perror("avx2only: ARCH_SET_CPUID (CPUID faulting) unavailable");
  } else if (getenv("AVX2ONLY_VERBOSE")) {
    fprintf(stderr, "avx2only: CPUID masked to AVX2\n");
  }
}
