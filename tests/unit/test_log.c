/*
 * test_log.c - the connection line in its three formats (relay_log.c),
 * and the check options of a server spec (relay_health.c), without
 * sockets.
 */
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "relay.h"

static void
v4(struct sockaddr_storage *ss, const char *a, int port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, a, &sin->sin_addr);
}

static void
test_formats(void)
{
	struct sockaddr_storage cl, pe;
	struct pp_header h;
	struct relay_logrec r;
	char line[1024];

	v4(&cl, "192.0.2.7", 4242);
	v4(&pe, "10.0.0.2", 5151);
	memset(&h, 0, sizeof(h));
	h.version = 2;
	h.command = PP_V2_CMD_PROXY;
	h.has_addr = 1;
	r = (struct relay_logrec){ .client = &cl, .peer = &pe,
	    .server = "10.0.1.5:80", .up = 517, .down = 12044, .ms = 38,
	    .end = RELAY_END_DONE, .hdr = relay_log_hdr(&h),
	    .tlvs = (uint16_t)(1 | 2 | 1u << 10) };
	relay_log_line(RELAY_LOG_TEXT, &r, line, sizeof(line));
	is_str(line, "client=192.0.2.7:4242 peer=10.0.0.2:5151 "
	    "server=10.0.1.5:80 up=517 down=12044 ms=38 end=done",
	    "text: today's line, no new field");
	relay_log_line(RELAY_LOG_LOGFMT, &r, line, sizeof(line));
	is_str(line, "client=192.0.2.7:4242 peer=10.0.0.2:5151 "
	    "server=10.0.1.5:80 up=517 down=12044 ms=38 end=done hdr=v2 "
	    "tlvs=alpn,authority,other", "logfmt: every field");
	relay_log_line(RELAY_LOG_JSON, &r, line, sizeof(line));
	is_str(line, "{\"client\":\"192.0.2.7:4242\",\"peer\":\"10.0.0.2:5151\","
	    "\"server\":\"10.0.1.5:80\",\"up\":517,\"down\":12044,\"ms\":38,"
	    "\"end\":\"done\",\"hdr\":\"v2\",\"tlvs\":[\"alpn\",\"authority\","
	    "\"other\"]}", "json: numbers, strings, a list");

	/* No server, no header, a LOCAL one. */
	r.server = NULL;
	r.hdr = 0;
	r.tlvs = 0;
	relay_log_line(RELAY_LOG_TEXT, &r, line, sizeof(line));
	ok(strstr(line, "server=- ") != NULL, "text: no server is '-'");
	relay_log_line(RELAY_LOG_LOGFMT, &r, line, sizeof(line));
	ok(strstr(line, "server=\"\" ") != NULL &&
	    strstr(line, "hdr=\"\" tlvs=\"\"") != NULL,
	    "logfmt: no value is an empty quoted one");
	relay_log_line(RELAY_LOG_JSON, &r, line, sizeof(line));
	ok(strstr(line, "\"server\":null,") != NULL &&
	    strstr(line, "\"hdr\":null,\"tlvs\":[]}") != NULL,
	    "json: null and an empty list");
	h.command = PP_V2_CMD_LOCAL;
	r.hdr = relay_log_hdr(&h);
	relay_log_line(RELAY_LOG_LOGFMT, &r, line, sizeof(line));
	ok(strstr(line, "hdr=v2-local") != NULL, "a LOCAL header: v2-local");

	/* A UDP session: its datagram counts and its own end reason. */
	r.server = "10.0.1.5:53";
	r.hdr = 0;
	r.udp = 1;
	r.dg_up = 3;
	r.dg_down = 2;
	r.end_name = "timeout";
	relay_log_line(RELAY_LOG_TEXT, &r, line, sizeof(line));
	is_str(line, "client=192.0.2.7:4242 peer=10.0.0.2:5151 "
	    "server=10.0.1.5:53 up=517 down=12044 ms=38 datagrams=3/2 "
	    "end=timeout", "text: a UDP session's line");
	relay_log_line(RELAY_LOG_JSON, &r, line, sizeof(line));
	ok(strstr(line, "\"ms\":38,\"datagrams_up\":3,\"datagrams_down\":2,"
	    "\"end\":\"timeout\"") != NULL, "json: datagram counts as numbers");
}

static void
test_escapes(void)
{
	struct sockaddr_storage cl;
	struct sockaddr_un *sun = (struct sockaddr_un *)&cl;
	struct relay_logrec r;
	const char *want;
	char line[1024];

	memset(&cl, 0, sizeof(cl));
	sun->sun_family = AF_UNIX;
	strcpy(sun->sun_path, "/t/a \"b\"\\c\n\x01=");
	r = (struct relay_logrec){ .client = &cl, .peer = &cl, .server = "s",
	    .end = RELAY_END_ERROR };
	relay_log_line(RELAY_LOG_LOGFMT, &r, line, sizeof(line));
	want = "client=\"unix:/t/a \\\"b\\\"\\\\c\\n\\u0001=\" ";
	ok(strncmp(line, want, strlen(want)) == 0,
	    "logfmt: quotes, backslash, newline, control escaped");
	relay_log_line(RELAY_LOG_JSON, &r, line, sizeof(line));
	want = "{\"client\":\"unix:/t/a \\\"b\\\"\\\\c\\u000a\\u0001=\",";
	ok(strncmp(line, want, strlen(want)) == 0,
	    "json: the same as JSON escapes");
	/* A buffer too small cuts the line, never overruns. */
	memset(line, 'X', sizeof(line));
	ok(relay_log_line(RELAY_LOG_JSON, &r, line, 20) == 19 &&
	    line[19] == '\0' && line[20] == 'X', "a short buffer: cut, ended");
	ok(relay_log_parse("json") == RELAY_LOG_JSON &&
	    relay_log_parse("logfmt") == RELAY_LOG_LOGFMT &&
	    relay_log_parse("text") == RELAY_LOG_TEXT &&
	    relay_log_parse("JSON") == -1, "format names");
}

static void
test_check_spec(void)
{
	struct relay_server s, t;
	const char *why = NULL;

	ok(relay_server_parse("127.0.0.1:6379,check-send=PING\\r\\n,"
	    "check-expect=+PONG", &s, 0, &why) == 0, "Redis spec parses");
	is_mem(s.chk.send, s.chk.send_len, "PING\r\n", 6, "check-send bytes");
	is_mem(s.chk.expect, s.chk.expect_len, "+PONG", 5, "check-expect");
	ok(s.check == 1 && !s.chk.http, "check-send implies check");
	ok(relay_server_parse("127.0.0.1:1,check-send=\\x00\\x2c\\xfF\\t\\\\",
	    &t, 0, &why) == 0, "hex escapes");
	is_mem(t.chk.send, t.chk.send_len, "\0,\xff\t\\", 5,
	    "\\x00 \\x2c \\xfF \\t \\\\");
	ok(strcmp(s.key, t.key) != 0, "other check bytes: another key");
	ok(relay_server_parse("127.0.0.1:1,check-http=/h,check-status=204",
	    &t, 0, &why) == 0 && t.chk.http && t.chk.status == 204 &&
	    t.check, "check-http with check-status");
	ok(relay_server_parse("127.0.0.1:1,check-send=a\\", &t, 0, &why) ==
	    -1, "a trailing backslash is refused");
	ok(relay_server_parse("127.0.0.1:1,check-expect=", &t, 0, &why) ==
	    -1, "an empty check-expect is refused");
}

int
main(void)
{
	test_formats();
	test_escapes();
	test_check_spec();
	return t_done();
}
