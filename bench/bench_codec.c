/*
 * bench_codec.c - how fast libproxyhdr parses and builds headers, and how
 * fast its CRC32C runs.
 *
 *	bench_codec [-c] [-r RUNS] [-t MS]
 *
 * Each case is calibrated to take about MS milliseconds (default 500) per
 * run, run RUNS times (default 5), and reported as the median: ns per
 * header and headers per second (GB/s for CRC32C over a 64 KiB buffer),
 * next to the project's goals.  Time is CLOCK_MONOTONIC; -c measures the
 * thread's CPU time instead, which leaves out preemption on a machine
 * shared with other work.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxyhdr.h"

/* Tell the compiler memory may change: no hoisting, no dead calls. */
#define BARRIER(p)	__asm__ __volatile__("" : : "g"(p) : "memory")

#define CRC_BUF		(64 * 1024)

enum kind { PARSE, BUILD_V1, BUILD_V2, CRC_HW, CRC_SW };

struct bench {
	const char	*name;
	enum kind	 kind;
	const uint8_t	*in;		/* PARSE: the header */
	size_t		 len;
	struct pp_header hdr;		/* BUILD_*: what to write */
	const struct pp_tlv *tlvs;
	size_t		 ntlv;
	int		 flags;
	double		 goal;		/* ops/s (bytes/s for CRC), 0: none */
	double		 ns;		/* result: median ns per op */
};

static volatile long long sink;
static clockid_t clock_id = CLOCK_MONOTONIC;
static uint8_t crcbuf[CRC_BUF];

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(clock_id, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static long long
work(const struct bench *b, long iters)
{
	static uint8_t out[1024];
	struct pp_header h;
	long long acc = 0;
	long i;

	switch (b->kind) {
	case PARSE:
		for (i = 0; i < iters; i++) {
			BARRIER(b->in);
			acc += pp_parse(b->in, b->len, &h);
			BARRIER(&h);
		}
		break;
	case BUILD_V1:
		for (i = 0; i < iters; i++) {
			BARRIER(&b->hdr);
			acc += pp_build_v1(out, sizeof(out), &b->hdr);
			BARRIER(out);
		}
		break;
	case BUILD_V2:
		for (i = 0; i < iters; i++) {
			BARRIER(&b->hdr);
			acc += pp_build_v2(out, sizeof(out), &b->hdr, b->tlvs,
			    b->ntlv, b->flags);
			BARRIER(out);
		}
		break;
	case CRC_HW:
		for (i = 0; i < iters; i++) {
			BARRIER(crcbuf);
			acc += pp_crc32c(0, crcbuf, sizeof(crcbuf));
		}
		break;
	case CRC_SW:
		for (i = 0; i < iters; i++) {
			BARRIER(crcbuf);
			acc += pp_crc32c_sw(0, crcbuf, sizeof(crcbuf));
		}
		break;
	}
	return acc;
}

static double
timed(const struct bench *b, long iters)
{
	double t0 = now_ns();

	sink += work(b, iters);
	return now_ns() - t0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
measure(struct bench *b, int runs, double target_ns)
{
	double t, per[64];
	long iters = 1;
	int i;

	/* Calibrate on at least 20 ms, then scale to the target. */
	while ((t = timed(b, iters)) < 20e6 && iters < (1L << 40))
		iters *= 2;
	iters = (long)(iters * (target_ns / t));
	if (iters < 1)
		iters = 1;
	for (i = 0; i < runs; i++)
		per[i] = timed(b, iters) / (double)iters;
	qsort(per, (size_t)runs, sizeof(per[0]), cmp_double);
	b->ns = per[runs / 2];
}

static void
ep(struct sockaddr_storage *ss, const char *ip, int port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, ip, &sin6->sin6_addr);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, ip, &sin->sin_addr);
	}
}

static void
rate(char *buf, size_t cap, double per_s, int bytes)
{
	if (bytes)
		snprintf(buf, cap, "%.2f GB/s", per_s / 1e9);
	else if (per_s >= 1e6)
		snprintf(buf, cap, "%.1f M/s", per_s / 1e6);
	else
		snprintf(buf, cap, "%.1f k/s", per_s / 1e3);
}

static void
cpu_model(char *buf, size_t cap)
{
	char line[256], *p;
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(buf, cap, "unknown CPU");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "model name", 10) == 0 &&
		    (p = strchr(line, ':')) != NULL) {
			p += 1 + (p[1] == ' ');
			p[strcspn(p, "\n")] = '\0';
			snprintf(buf, cap, "%s", p);
			break;
		}
	fclose(f);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_codec [-c] [-r runs] [-t ms]\n");
	exit(64);
}

int
main(int argc, char *argv[])
{
	static const char v1tcp4[] =
	    "PROXY TCP4 192.168.100.200 10.20.30.40 56324 443\r\n";
	static const char v1tcp6[] =
	    "PROXY TCP6 2001:db8:85a3::8a2e:370:7334 2001:db8::1 56324 443\r\n";
	static uint8_t v2inet[64], v2inet6[256];
	struct pp_tlv tl[2];
	struct pp_header h4, h6, chk;
	struct bench b[9];
	char cpu[128], r1[32], r2[32];
	size_t nb = 0, i;
	int runs = 5, ms = 500, c, n4, n6, met = 0, missed = 0;

	/*
	 * By hand: the Makefile compiles with the libbsd overlay but links
	 * benchmarks without -lbsd, so getopt(3) would not resolve.
	 */
	for (c = 1; c < argc; c++) {
		if (strcmp(argv[c], "-c") == 0)
			clock_id = CLOCK_THREAD_CPUTIME_ID;
		else if (strcmp(argv[c], "-r") == 0 && c + 1 < argc)
			runs = atoi(argv[++c]);
		else if (strcmp(argv[c], "-t") == 0 && c + 1 < argc)
			ms = atoi(argv[++c]);
		else
			usage();
	}
	if (runs < 1 || runs > 64 || ms < 1 || ms > 60000)
		usage();

	memset(&h4, 0, sizeof(h4));
	h4.command = PP_V2_CMD_PROXY;
	ep(&h4.src, "192.168.100.200", 56324);
	ep(&h4.dst, "10.20.30.40", 443);
	h6 = h4;
	ep(&h6.src, "2001:db8:85a3::8a2e:370:7334", 56324);
	ep(&h6.dst, "2001:db8::1", 443);
	tl[0].type = PP_TLV_ALPN;
	tl[0].len = 2;
	tl[0].value = (const uint8_t *)"h2";
	tl[1].type = PP_TLV_AUTHORITY;
	tl[1].len = 15;
	tl[1].value = (const uint8_t *)"www.example.com";
	n4 = pp_build_v2(v2inet, sizeof(v2inet), &h4, NULL, 0, 0);
	n6 = pp_build_v2(v2inet6, sizeof(v2inet6), &h6, tl, 2,
	    PP_BUILD_CRC32C);
	if (n4 <= 0 || n6 <= 0 ||
	    pp_parse(v2inet, (size_t)n4, &chk) != n4 ||
	    pp_parse(v2inet6, (size_t)n6, &chk) != n6 ||
	    chk.crc32c != PP_CRC_OK ||
	    pp_parse(v1tcp4, sizeof(v1tcp4) - 1, &chk) <= 0 ||
	    pp_parse(v1tcp6, sizeof(v1tcp6) - 1, &chk) <= 0) {
		fprintf(stderr, "bench_codec: the library fails on the "
		    "benchmark's own headers\n");
		return 1;
	}
	for (i = 0; i < CRC_BUF; i++)
		crcbuf[i] = (uint8_t)(i * 131 + 7);

	memset(b, 0, sizeof(b));
	b[nb++] = (struct bench){ .name = "parse v1 TCP4", .kind = PARSE,
	    .in = (const uint8_t *)v1tcp4, .len = sizeof(v1tcp4) - 1,
	    .goal = 20e6 };
	b[nb++] = (struct bench){ .name = "parse v1 TCP6", .kind = PARSE,
	    .in = (const uint8_t *)v1tcp6, .len = sizeof(v1tcp6) - 1 };
	b[nb++] = (struct bench){ .name = "parse v2 INET", .kind = PARSE,
	    .in = v2inet, .len = (size_t)n4, .goal = 100e6 };
	b[nb++] = (struct bench){ .name = "parse v2 INET6+ALPN+AUTH+CRC",
	    .kind = PARSE, .in = v2inet6, .len = (size_t)n6 };
	b[nb++] = (struct bench){ .name = "build v1 TCP4", .kind = BUILD_V1,
	    .hdr = h4 };
	b[nb++] = (struct bench){ .name = "build v1 TCP6", .kind = BUILD_V1,
	    .hdr = h6 };
	b[nb++] = (struct bench){ .name = "build v2 INET", .kind = BUILD_V2,
	    .hdr = h4 };
	b[nb++] = (struct bench){ .name = "build v2 INET6+ALPN+AUTH+CRC",
	    .kind = BUILD_V2, .hdr = h6, .tlvs = tl, .ntlv = 2,
	    .flags = PP_BUILD_CRC32C };
	b[nb++] = (struct bench){ .name = "crc32c hw, 64 KiB",
	    .kind = CRC_HW, .goal = 5e9 };

	cpu_model(cpu, sizeof(cpu));
	printf("libproxyhdr %s codec benchmark: median of %d runs of ~%d ms "
	    "(%s)\ncpu: %s; hardware CRC32C: %s\n\n", PP_VERSION_STRING, runs,
	    ms, clock_id == CLOCK_MONOTONIC ? "wall clock" : "thread CPU time",
	    cpu, pp_crc32c_hw_available() ? "yes" : "no");
	printf("%-30s %10s %14s %14s  %s\n", "case", "ns/op", "rate", "goal",
	    "");
	fflush(stdout);
	for (i = 0; i <= nb; i++) {
		struct bench sw = { .name = "crc32c table, 64 KiB",
		    .kind = CRC_SW };
		struct bench *x = i < nb ? &b[i] : &sw;
		int bytes = x->kind == CRC_HW || x->kind == CRC_SW;
		double per_s;
		const char *verdict = "";

		measure(x, runs, ms * 1e6);
		per_s = 1e9 / x->ns * (bytes ? CRC_BUF : 1);
		rate(r1, sizeof(r1), per_s, bytes);
		if (x->goal > 0) {
			rate(r2 + 3, sizeof(r2) - 3, x->goal, bytes);
			memcpy(r2, ">= ", 3);
			if (x->kind == CRC_HW && !pp_crc32c_hw_available())
				verdict = "n/a (no hardware CRC32C)";
			else if (per_s >= x->goal) {
				verdict = "ok";
				met++;
			} else {
				verdict = "BELOW GOAL";
				missed++;
			}
		} else
			snprintf(r2, sizeof(r2), "-");
		printf("%-30s %10.1f %14s %14s  %s\n", x->name, x->ns, r1, r2,
		    verdict);
		fflush(stdout);
	}
	printf("\ngoals: %d met, %d missed\n", met, missed);
	return 0;
}
