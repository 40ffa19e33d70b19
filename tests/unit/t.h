/*
 * t.h - a tiny TAP producer for the C unit tests.
 *
 * Plan-less TAP on stdout: "ok N - name" or "not ok N - name" followed by
 * "# file:line: ..." diagnostics, and "1..N" at the end.  t_done() returns
 * the exit status: 0 when everything passed, 1 otherwise (tests/run treats
 * any other status as a crash).
 *
 *	ok(cond, "name %d", i);
 *	is_int(got, want, "name");
 *	is_str(got, want, "name");
 *	is_mem(got, glen, want, wlen, "name");
 *
 * Groups fold many silent checks into one TAP line, so a loop over
 * thousands of inputs does not flood the output; the first few failures of
 * a group are printed as diagnostics:
 *
 *	struct t_group g = T_GROUP;
 *	check(&g, cond, "input %zu", i);
 *	group_ok(&g, "every prefix");
 */
#ifndef T_H
#define T_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_DIAG_MAX	8	/* diagnostics shown per group */

struct t_group {
	int	fails;
	int	checks;
};
#define T_GROUP	{ 0, 0 }

static int t_count;
static int t_failed;

static inline void
t_vline(const char *prefix, const char *fmt, va_list ap)
{
	char name[512];
	char *p;

	vsnprintf(name, sizeof(name), fmt, ap);
	/* A name must stay on one line and must not start a TAP directive. */
	for (p = name; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '#')
			*p = '_';
	printf("%s %d - %s\n", prefix, t_count, name);
}

static inline void
t_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline void
t_diag(const char *fmt, ...)
{
	char msg[1024];
	char *p, *line;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Every line of a diagnostic starts with "# ". */
	for (line = msg; line != NULL; line = p) {
		p = strchr(line, '\n');
		if (p != NULL)
			*p++ = '\0';
		printf("# %s\n", line);
	}
	fflush(stdout);
}

static inline int
t_ok(int pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline int
t_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	t_count++;
	va_start(ap, fmt);
	t_vline(pass ? "ok" : "not ok", fmt, ap);
	va_end(ap);
	if (!pass) {
		t_failed++;
		printf("# %s:%d: failed\n", file, line);
	}
	fflush(stdout);
	return pass;
}

static inline int
t_is_int(long long got, long long want, const char *expr, const char *file,
    int line, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static inline int
t_is_int(long long got, long long want, const char *expr, const char *file,
    int line, const char *fmt, ...)
{
	va_list ap;
	int pass = got == want;

	t_count++;
	va_start(ap, fmt);
	t_vline(pass ? "ok" : "not ok", fmt, ap);
	va_end(ap);
	if (!pass) {
		t_failed++;
		printf("# %s:%d: %s is %lld (0x%llx), expected %lld (0x%llx)\n",
		    file, line, expr, got, (unsigned long long)got, want,
		    (unsigned long long)want);
	}
	fflush(stdout);
	return pass;
}

static inline int
t_is_str(const char *got, const char *want, const char *expr,
    const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static inline int
t_is_str(const char *got, const char *want, const char *expr,
    const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int pass;

	if (got == NULL || want == NULL)
		pass = got == want;
	else
		pass = strcmp(got, want) == 0;
	t_count++;
	va_start(ap, fmt);
	t_vline(pass ? "ok" : "not ok", fmt, ap);
	va_end(ap);
	if (!pass) {
		t_failed++;
		printf("# %s:%d: %s is \"%s\", expected \"%s\"\n", file, line,
		    expr, got ? got : "(null)", want ? want : "(null)");
	}
	fflush(stdout);
	return pass;
}

/* Hex of up to 64 bytes of p, for diagnostics. */
static inline const char *
t_hex(const void *p, size_t len, char *out, size_t cap)
{
	const unsigned char *b = p;
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < len && i < 64 && o + 3 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02x", b[i]);
	if (i < len && o + 4 < cap)
		snprintf(out + o, cap - o, "...");
	return out;
}

static inline int
t_is_mem(const void *got, size_t glen, const void *want, size_t wlen,
    const char *expr, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static inline int
t_is_mem(const void *got, size_t glen, const void *want, size_t wlen,
    const char *expr, const char *file, int line, const char *fmt, ...)
{
	char g[160], w[160];
	va_list ap;
	int pass;

	pass = glen == wlen && (glen == 0 || memcmp(got, want, glen) == 0);
	t_count++;
	va_start(ap, fmt);
	t_vline(pass ? "ok" : "not ok", fmt, ap);
	va_end(ap);
	if (!pass) {
		t_failed++;
		printf("# %s:%d: %s differs\n#   got  %zu bytes %s\n"
		    "#   want %zu bytes %s\n", file, line, expr, glen,
		    t_hex(got, glen, g, sizeof(g)), wlen,
		    t_hex(want, wlen, w, sizeof(w)));
	}
	fflush(stdout);
	return pass;
}

static inline int
t_check(struct t_group *g, int pass, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static inline int
t_check(struct t_group *g, int pass, const char *file, int line,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	g->checks++;
	if (pass)
		return 1;
	if (g->fails++ < T_DIAG_MAX) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		t_diag("%s:%d: %s", file, line, msg);
	} else if (g->fails == T_DIAG_MAX + 1)
		t_diag("%s:%d: (further failures of this group not shown)",
		    file, line);
	return 0;
}

static inline int
t_done(void)
{
	printf("1..%d\n", t_count);
	if (t_failed > 0)
		printf("# %d of %d failed\n", t_failed, t_count);
	fflush(stdout);
	return t_failed > 0 ? 1 : 0;
}

#define ok(c, ...)	t_ok(!!(c), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) \
	t_is_int((long long)(got), (long long)(want), #got, __FILE__, \
	    __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) \
	t_is_str((got), (want), #got, __FILE__, __LINE__, __VA_ARGS__)
#define is_mem(got, glen, want, wlen, ...) \
	t_is_mem((got), (glen), (want), (wlen), #got, __FILE__, __LINE__, \
	    __VA_ARGS__)
#define diag(...)	t_diag(__VA_ARGS__)
#define skip(why, ...)	do { t_count++; printf("ok %d - ", t_count); \
	printf(__VA_ARGS__); printf(" # SKIP %s\n", (why)); fflush(stdout); \
	} while (0)
#define check(g, c, ...) \
	t_check((g), !!(c), __FILE__, __LINE__, __VA_ARGS__)
#define group_ok(g, ...) \
	t_ok((g)->fails == 0 && (g)->checks > 0, __FILE__, __LINE__, \
	    __VA_ARGS__)

#endif /* T_H */
