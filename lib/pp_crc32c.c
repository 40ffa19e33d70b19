/*
 * CRC32C (Castagnoli), as the PROXY v2 CRC32C TLV uses it (spec 2.2.3).
 * The CPU's crc32 instruction when it has one, chosen at run time;
 * slicing-by-8 tables otherwise.  Both give identical results.
 */
#include <stdint.h>
#include <string.h>

#include "proxyhdr.h"
#include "pp_crc32c_table.h"

uint32_t
pp_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t w;

	crc = ~crc;
	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		len--;
	}
	while (len >= 8) {
		/* Little-endian word: the reflected CRC eats low bytes first. */
		memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		w ^= crc;
		crc = crc32c_table[7][w & 0xff] ^
		    crc32c_table[6][(w >> 8) & 0xff] ^
		    crc32c_table[5][(w >> 16) & 0xff] ^
		    crc32c_table[4][(w >> 24) & 0xff] ^
		    crc32c_table[3][(w >> 32) & 0xff] ^
		    crc32c_table[2][(w >> 40) & 0xff] ^
		    crc32c_table[1][(w >> 48) & 0xff] ^
		    crc32c_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

#define HAVE_HW_CRC 1

/*
 * Three independent streams hide the instruction's 3-cycle latency; they
 * are joined by shifting the first two over the bytes that follow them,
 * which is a carry-less multiply by x^(8n) mod P (pclmulqdq).
 */
#include <wmmintrin.h>


/*
 * CRC_SHIFT_1 and _2 (lib/pp_crc32c_table.h) are x^(8n - 33) mod P,
 * bit-reflected, for n = CRC_BLOCK and 2 * CRC_BLOCK: multiplying a CRC by
 * x^(8n) moves it over n zero bytes, and the 33 accounts for the reduction
 * by the crc32 instruction (x^32) and the one bit a reflected carry-less
 * product is short.
 */

__attribute__((target("sse4.2,pclmul")))
static uint32_t
crc_shift(uint32_t crc, uint32_t k)
{
	__m128i a = _mm_cvtsi32_si128((int)crc);
	__m128i b = _mm_cvtsi32_si128((int)k);
	uint64_t prod = (uint64_t)_mm_cvtsi128_si64(_mm_clmulepi64_si128(a, b,
	    0));

	return _mm_crc32_u64(0, prod);
}

__attribute__((target("sse4.2,pclmul")))
static uint32_t
crc_hw(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t c0, c1, c2, w0, w1, w2;
	size_t i;

	c0 = ~crc;
	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c0 = _mm_crc32_u8((uint32_t)c0, *p++);
		len--;
	}
	if (len >= 3 * CRC_BLOCK) {
		while (len >= 3 * CRC_BLOCK) {
			c1 = 0;
			c2 = 0;
			for (i = 0; i < CRC_BLOCK; i += 8) {
				memcpy(&w0, p + i, 8);
				memcpy(&w1, p + CRC_BLOCK + i, 8);
				memcpy(&w2, p + 2 * CRC_BLOCK + i, 8);
				c0 = _mm_crc32_u64(c0, w0);
				c1 = _mm_crc32_u64(c1, w1);
				c2 = _mm_crc32_u64(c2, w2);
			}
			c0 = crc_shift((uint32_t)c0, CRC_SHIFT_2) ^
			    crc_shift((uint32_t)c1, CRC_SHIFT_1) ^ c2;
			p += 3 * CRC_BLOCK;
			len -= 3 * CRC_BLOCK;
		}
	}
	while (len >= 8) {
		memcpy(&w0, p, 8);
		c0 = _mm_crc32_u64(c0, w0);
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c0 = _mm_crc32_u8((uint32_t)c0, *p++);
	return ~(uint32_t)c0;
}

int
pp_crc32c_hw_available(void)
{
	return __builtin_cpu_supports("sse4.2") &&
	    __builtin_cpu_supports("pclmul");
}
#else
int
pp_crc32c_hw_available(void)
{
	return 0;
}
#endif

uint32_t
pp_crc32c(uint32_t crc, const void *data, size_t len)
{
#ifdef HAVE_HW_CRC
	if (pp_crc32c_hw_available())
		return crc_hw(crc, data, len);
#endif
	return pp_crc32c_sw(crc, data, len);
}
