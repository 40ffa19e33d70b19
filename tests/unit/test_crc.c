/*
 * test_crc.c - CRC32C (Castagnoli): known answers, continuation, and the
 * hardware and table versions agreeing with each other and with a bitwise
 * reference on every length 0..1024 at every alignment 0..15.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxyhdr.h"
#include "t.h"

#define MAXLEN	1024
#define ALIGNS	16

static uint32_t
ref_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	uint32_t c = ~crc;
	int k;

	while (n-- > 0) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78 & (0 - (c & 1)));
	}
	return ~c;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint8_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)(rng >> 32);
}

/* RFC 3720 appendix B.4 and the usual check value. */
static void
known_answers(void)
{
	static const uint8_t pdu[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
		0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	uint8_t zero[32], ones[32], inc[32], dec[32];
	struct {
		const char *name;
		const void *p;
		size_t n;
		uint32_t want;
	} kat[] = {
		{ "\"123456789\"", "123456789", 9, 0xe3069283 },
		{ "32 zero bytes", zero, 32, 0x8a9136aa },
		{ "32 bytes 0xff", ones, 32, 0x62a8ab43 },
		{ "32 bytes 0x00..0x1f", inc, 32, 0x46dd794e },
		{ "32 bytes 0x1f..0x00", dec, 32, 0x113fdb5c },
		{ "iSCSI read PDU", pdu, 48, 0xd9963a56 },
		{ "\"a\"", "a", 1, 0xc1d04330 },
		{ "empty", "", 0, 0 },
	};
	size_t i;

	memset(zero, 0, sizeof(zero));
	memset(ones, 0xff, sizeof(ones));
	for (i = 0; i < 32; i++) {
		inc[i] = (uint8_t)i;
		dec[i] = (uint8_t)(31 - i);
	}
	for (i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		is_int(ref_crc32c(0, kat[i].p, kat[i].n), kat[i].want,
		    "reference CRC32C of %s", kat[i].name);
		is_int(pp_crc32c(0, kat[i].p, kat[i].n), kat[i].want,
		    "pp_crc32c of %s is 0x%08x", kat[i].name, kat[i].want);
		is_int(pp_crc32c_sw(0, kat[i].p, kat[i].n), kat[i].want,
		    "pp_crc32c_sw of %s is 0x%08x", kat[i].name, kat[i].want);
	}
	is_int(pp_crc32c(0x12345678, "x", 0), 0x12345678,
	    "pp_crc32c of nothing returns crc unchanged");
	is_int(pp_crc32c_sw(0x12345678, "x", 0), 0x12345678,
	    "pp_crc32c_sw of nothing returns crc unchanged");
}

/* crc(a || b) == crc(crc(a), b) for every split. */
static void
continuation(void)
{
	uint8_t buf[300];
	struct t_group g = T_GROUP;
	uint32_t whole, whole_sw;
	size_t i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = rnd();
	whole = pp_crc32c(0, buf, sizeof(buf));
	whole_sw = pp_crc32c_sw(0, buf, sizeof(buf));
	check(&g, whole == whole_sw && whole == ref_crc32c(0, buf,
	    sizeof(buf)), "whole buffer");
	for (i = 0; i <= sizeof(buf); i++) {
		check(&g, pp_crc32c(pp_crc32c(0, buf, i), buf + i,
		    sizeof(buf) - i) == whole, "hw split at %zu", i);
		check(&g, pp_crc32c_sw(pp_crc32c_sw(0, buf, i), buf + i,
		    sizeof(buf) - i) == whole, "sw split at %zu", i);
		check(&g, pp_crc32c(pp_crc32c_sw(0, buf, i), buf + i,
		    sizeof(buf) - i) == whole, "sw then hw split at %zu", i);
	}
	group_ok(&g, "CRC32C continues from a previous value at every split");
}

static void
agreement(void)
{
	static uint8_t buf[MAXLEN + ALIGNS + 64];
	struct t_group g = T_GROUP, gr = T_GROUP;
	size_t len, al, i;
	uint32_t seed, hw, sw;

	diag("pp_crc32c_hw_available() = %d", pp_crc32c_hw_available());
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = rnd();
	for (len = 0; len <= MAXLEN; len++)
		for (al = 0; al < ALIGNS; al++) {
			seed = len % 3 == 0 ? 0 : (uint32_t)rnd() << 24 |
			    (uint32_t)rnd() << 8 | rnd();
			hw = pp_crc32c(seed, buf + al, len);
			sw = pp_crc32c_sw(seed, buf + al, len);
			check(&g, hw == sw, "length %zu alignment %zu: hw "
			    "%08x, sw %08x", len, al, hw, sw);
			check(&gr, sw == ref_crc32c(seed, buf + al, len),
			    "length %zu alignment %zu: sw %08x, reference %08x",
			    len, al, sw, ref_crc32c(seed, buf + al, len));
		}
	group_ok(&g, "pp_crc32c and pp_crc32c_sw agree: lengths 0..%d, "
	    "alignments 0..%d, random data and seeds", MAXLEN, ALIGNS - 1);
	group_ok(&gr, "pp_crc32c_sw agrees with a bitwise CRC32C");
}

/* Data that ends right before an inaccessible page: no over-read. */
static void
guarded(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct t_group g = T_GROUP;
	uint8_t *map, *end;
	size_t len;

	map = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED || mprotect(map + pg, (size_t)pg,
	    PROT_NONE) == -1) {
		skip("mmap failed", "CRC32C reads nothing past the data");
		return;
	}
	end = map + pg;
	for (len = 0; len < (size_t)pg; len++)
		end[-1 - (long)len] = rnd();
	for (len = 0; len <= MAXLEN; len++)
		check(&g, pp_crc32c(0, end - len, len) ==
		    pp_crc32c_sw(0, end - len, len), "length %zu", len);
	group_ok(&g, "CRC32C reads nothing past the data (guard page)");
	munmap(map, 2 * (size_t)pg);
}

int
main(void)
{
	known_answers();
	continuation();
	agreement();
	guarded();
	return t_done();
}
