/*
 * Reading exactly one header from a file descriptor, and not one byte
 * more, so that a program inheriting the descriptor reads the payload from
 * its first byte.
 *
 * On a socket the bytes are peeked, parsed, and only then consumed: a
 * complete header takes exactly its length; an incomplete one takes what
 * was seen, since every byte of a valid prefix belongs to the header.  A
 * pipe or file cannot be peeked, so it is read no further than the parser
 * says the header must still go (h->need).
 */
#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proxyhdr.h"

/* Wait for input until the deadline: 1 ready, 0 timed out, -1 error. */
static int
wait_input(int fd, const struct timespec *deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec now;
	long long ms;
	int r;

	for (;;) {
		ms = -1;
		if (deadline != NULL) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
			    (deadline->tv_nsec - now.tv_nsec) / 1000000;
			if (ms < 0)
				ms = 0;
		}
		r = poll(&pfd, 1, (int)ms);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* Consume n bytes already in the socket's queue into buf. */
static int
consume(int fd, uint8_t *buf, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = recv(fd, buf, n, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;	/* the queue had them: cannot happen */
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
sleep_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	return nanosleep(&ts, NULL);
}

static int
expired(const struct timespec *deadline)
{
	struct timespec now;

	if (deadline == NULL)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec || (now.tv_sec ==
	    deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* The peer has finished sending, though bytes may still be queued. */
static int
peer_done(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };

	return poll(&pfd, 1, 0) > 0 &&
	    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* pp_read_fd, counting in *consumed the bytes taken from fd into buf. */
static int
read_header(int fd, uint8_t *b, size_t cap, struct pp_header *h,
    int timeout_ms, int flags, size_t *consumed)
{
	struct timespec deadline, *dl = NULL;
	size_t have = 0, want;
	ssize_t n;
	int version, is_sock = -1, r, w;

#define TOOK(k)	(*consumed = have + (k))
	*consumed = 0;
	version = flags & PP_READ_V1 ? 1 : flags & PP_READ_V2 ? 2 : 0;
	if ((flags & PP_READ_V1) && (flags & PP_READ_V2))
		version = 0;
	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		dl = &deadline;
	}
	h->need = 8;
	for (;;) {
		if (have >= cap)
			return -PP_ETOOBIG;
		w = wait_input(fd, dl);
		if (w < 0)
			return -PP_ESYS;
		if (w == 0)
			return -PP_ETIMEDOUT;

		if (is_sock != 0) {
			n = recv(fd, b + have, cap - have,
			    MSG_PEEK | MSG_DONTWAIT);
			if (n < 0 && errno == ENOTSOCK) {
				is_sock = 0;
				continue;
			}
			is_sock = 1;
		} else {
			/* Never past what the header still needs. */
			want = h->need > have ? h->need - have : 1;
			if (want > cap - have)
				want = cap - have;
			n = read(fd, b + have, want);
		}
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -PP_ESYS;
		}
		if (n == 0) {
			/* End of input inside the header (or before it). */
			r = pp_parse_version(b, have, version, h);
			if (r == 0 && have == 0 && (flags & PP_READ_OPTIONAL))
				return -PP_ENOHDR;
			return r < 0 ? r : -PP_ETRUNC;
		}

		r = pp_parse_version(b, have + (size_t)n, version, h);
		if (r < 0) {
			if ((flags & PP_READ_OPTIONAL) && r == -PP_ENOT_PP) {
				/* On a pipe the bytes read are gone: say so. */
				if (!is_sock)
					TOOK((size_t)n);
				return -PP_ENOHDR;
			}
			if (!is_sock || consume(fd, b + have, (size_t)n) == 0)
				TOOK((size_t)n);
			return r;
		}
		if (r > 0) {
			if (is_sock && consume(fd, b + have, (size_t)r - have))
				return -PP_ESYS;
			return r;
		}
		if (h->need > cap)
			return -PP_ETOOBIG;
		if (!is_sock) {
			have += (size_t)n;
			TOOK(0);
			continue;
		}
		/*
		 * Incomplete.  Take what was seen: it is all header.  With
		 * PP_READ_OPTIONAL a partial signature might still turn out
		 * not to be one, so leave it queued and look again shortly.
		 */
		if ((flags & PP_READ_OPTIONAL) && have + (size_t)n <
		    (b[0] == 'P' ? 6u : (size_t)PP_V2_SIG_LEN)) {
			/* Queued bytes keep poll() ready: mind the clock. */
			if (peer_done(fd))
				return -PP_ENOHDR;
			if (expired(dl))
				return -PP_ETIMEDOUT;
			sleep_ms(5);
			continue;
		}
		if (consume(fd, b + have, (size_t)n))
			return -PP_ESYS;
		have += (size_t)n;
		TOOK(0);
	}
#undef TOOK
}

int
pp_read_fd(int fd, void *buf, size_t cap, struct pp_header *h,
    int timeout_ms, int flags)
{
	size_t consumed;
	int r;

	if (fd < 0) {
		errno = EBADF;	/* poll() would just ignore it */
		return -PP_ESYS;
	}
	r = read_header(fd, buf, cap, h, timeout_ms, flags, &consumed);
	if (r < 0)
		h->hdr_len = (uint32_t)consumed;
	return r;
}
