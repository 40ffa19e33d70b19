#!/usr/bin/env bats
# pp-relay: one upstream, PROXY protocol on either side, refusals, limits,
# half-close, operations (fd 0, systemd, pid file, drain, workers).

bats_require_minimum_version 1.5.0
load helpers

# socat running CMD for each connection (SYSTEM), on SPORT.
socat_server() {
	start_on_port SPORT srv socat \
		"TCP-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr,fork" "$1"
}

setup() {
	need_cmd socat python3
}

@test "pp-relay --help lists every option and exits 0" {
	run -0 pp-relay --help
	for o in listen connect accept-proxy optional trust max-header \
	    send-proxy tlv crc32c pass-tlvs drop-tlv allow deny \
	    max-conns-per-ip rate-per-ip max-conns header-timeout \
	    connect-timeout idle-timeout grace usesrc stats workers user \
	    pidfile quiet verbose version; do
		assert_contains "$output" "--$o"
	done
}

@test "pp-relay without -c is a usage error (64)" {
	run -64 --separate-stderr pp-relay -l 127.0.0.1:1
	assert_contains "$stderr" "pp-relay: -c UPSTREAM is required"
	run -64 pp-relay -l 127.0.0.1:1 -c 127.0.0.1:2 --balance source
	run -64 pp-relay -l 127.0.0.1:1 -c 127.0.0.1:2 --optional
	run -64 --separate-stderr pp-relay -l 127.0.0.1:1 -c 127.0.0.1:2 -w 0
	assert_contains "$stderr" "--workers"
}

@test "pp-relay -V prints the version" {
	run -0 pp-relay -V
	assert_contains "$output" "pp-relay "
}

@test "pp-relay relays both ways and logs one line per connection" {
	socat_server EXEC:cat
	relay r -c "127.0.0.1:$SPORT"
	run -0 socat -t 5 - "TCP:127.0.0.1:$LPORT,bind=127.0.0.9" <<< "hello"
	assert_eq "$output" "hello"
	wait_for 5 grep -q 'end=done' "$BATS_TEST_TMPDIR/r.err"
	run grep -c 'client=127.0.0.9:[0-9]* peer=127.0.0.9:[0-9]* server=127.0.0.1:'"$SPORT"' up=6 down=6 ms=[0-9]* end=done' \
		"$BATS_TEST_TMPDIR/r.err"
	assert_eq "$output" "1"
}

@test "pp-relay --send-proxy tells the server the client's own address" {
	reply_server
	relay r -c "127.0.0.1:$SPORT" --send-proxy
	run -0 pp_py clients "127.0.0.1:$LPORT" 3 --base 127.4.5.0
	assert_eq "$output" "127.4.5.1 s1 127.4.5.1
127.4.5.2 s1 127.4.5.2
127.4.5.3 s1 127.4.5.3"
}

@test "pp-relay converts between every received and sent version" {
	capture_server
	local acc snd rport n=0
	for acc in v1 v2 any; do
		for snd in v1 v2; do
			start_on_port rport "r$n" pp-relay -l "127.0.0.1:@PORT@" \
				-c "127.0.0.1:$SPORT" "--accept-proxy=$acc" \
				"--send-proxy=$snd"
			settled "r$n"
			if [ "$acc" = v2 ]; then
				pp_py clients "127.0.0.1:$rport" 1 --base 192.0.2.0 \
					--hdr v2 --data payload > /dev/null
			else
				pp_py clients "127.0.0.1:$rport" 1 --base 192.0.2.0 \
					--hdr v1 --data payload > /dev/null
			fi
			wait_for 5 grep -q payload "$BATS_TEST_TMPDIR/cap"
			run -0 pp-inspect -j "$BATS_TEST_TMPDIR/cap"
			assert_eq "$(json_get "$output" .version)" "${snd#v}"
			assert_eq "$(json_get "$output" .src.addr)" "192.0.2.1"
			assert_eq "$(json_get "$output" .src.port)" "40000"
			assert_eq "$(json_get "$output" .dst.port)" "80"
			assert_eq "$(tail -c 7 "$BATS_TEST_TMPDIR/cap")" "payload"
			n=$((n + 1))
		done
	done
}

@test "pp-relay --tlv and --crc32c build a checked v2 header" {
	capture_server
	relay r -c "127.0.0.1:$SPORT" --send-proxy=v2 --tlv alpn=h2 \
		--tlv authority=example.com --crc32c
	settled r
	pp_py clients "127.0.0.1:$LPORT" 1 --data x > /dev/null
	wait_file "$BATS_TEST_TMPDIR/cap"
	run -0 pp-inspect -j "$BATS_TEST_TMPDIR/cap"
	assert_eq "$(json_get "$output" .crc32c)" "ok"
	assert_eq "$(json_get "$output" .tlvs[0].value)" "h2"
	assert_eq "$(json_get "$output" .tlvs[1].value)" "example.com"
	assert_eq "$(json_get "$output" .src.addr)" "127.1.0.1"
}

@test "pp-relay --pass-tlvs passes TLVs on, drops one and recomputes CRC32C" {
	capture_server
	relay r -c "127.0.0.1:$SPORT" --accept-proxy=v2 --send-proxy=v2 \
		--pass-tlvs --drop-tlv unique-id --tlv noop=0x00
	settled r
	# A v2 header with ALPN, UNIQUE_ID and a valid CRC32C, from pp-send.
	pp-send -2 -n -s 198.51.100.4:1234 -d 203.0.113.9:443 \
		--tlv alpn=h2 --tlv unique-id=abc --crc32c \
		> "$BATS_TEST_TMPDIR/hdr"
	run -0 pp-inspect -j "$BATS_TEST_TMPDIR/hdr"
	assert_eq "$(json_get "$output" .crc32c)" "ok"
	{ cat "$BATS_TEST_TMPDIR/hdr"; printf 'data'; } |
		socat -t 5 - "TCP:127.0.0.1:$LPORT"
	wait_for 5 grep -q data "$BATS_TEST_TMPDIR/cap"
	run -0 pp-inspect -j "$BATS_TEST_TMPDIR/cap"
	assert_eq "$(json_get "$output" .src.addr)" "198.51.100.4"
	assert_eq "$(json_get "$output" .crc32c)" "ok"
	assert_contains "$output" '"name":"alpn"'
	assert_contains "$output" '"name":"noop"'
	assert_not_contains "$output" '"name":"unique-id"'
}

@test "pp-relay --pass-tlvs passes all of 100 TLVs; a --tlv of a type replaces the received one" {
	capture_server
	relay r -c "127.0.0.1:$SPORT" --accept-proxy=v2 --send-proxy=v2 \
		--pass-tlvs --tlv authority=new.example
	settled r
	# More TLVs than pp-send takes: the header is built here.
	python3 -c '
import socket, struct, sys
tlv = lambda t, v: bytes([t]) + struct.pack("!H", len(v)) + v
body = (socket.inet_aton("198.51.100.4") + socket.inet_aton("203.0.113.9") +
        struct.pack("!HH", 1234, 443) + tlv(2, b"old.example") +
        b"".join(tlv(0xe1, b"t%d" % i) for i in range(100)))
sys.stdout.buffer.write(b"\r\n\r\n\x00\r\nQUIT\n\x21\x11" +
                        struct.pack("!H", len(body)) + body)' \
		> "$BATS_TEST_TMPDIR/hdr"
	{ cat "$BATS_TEST_TMPDIR/hdr"; printf 'data'; } |
		socat -t 5 - "TCP:127.0.0.1:$LPORT"
	wait_for 5 grep -q data "$BATS_TEST_TMPDIR/cap"
	run -0 pp-inspect -j "$BATS_TEST_TMPDIR/cap"
	run -0 python3 -c '
import json, sys
h = json.loads(sys.argv[1])
t = h["tlvs"]
print(sum(1 for x in t if x["type"] == 0xe1),
      [x["value"] for x in t if x["name"] == "authority"],
      [x["hex"] for x in t if x["type"] == 0xe1][99])' "$output"
	assert_eq "$output" "100 ['new.example'] $(printf t99 | hex)"
}

@test "pp-relay refuses a malformed header: that connection only, upstream sees nothing" {
	capture_server
	relay r -c "127.0.0.1:$SPORT" --accept-proxy
	# A good connection held open across the refusal.
	exec 7<> "/dev/tcp/127.0.0.1/$LPORT"
	printf 'PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\nfirst ' >&7
	run socat -t 2 - "TCP:127.0.0.1:$LPORT" <<< $'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\nsecret'
	assert_empty "$output"
	wait_for 5 grep -q 'end=bad-header' "$BATS_TEST_TMPDIR/r.err"
	printf 'second' >&7
	exec 7>&-
	wait_for 5 grep -q 'end=done' "$BATS_TEST_TMPDIR/r.err"
	assert_eq "$(cat "$BATS_TEST_TMPDIR/cap")" "first second"
}

@test "pp-relay refuses a header from an untrusted peer" {
	capture_server
	relay r -c "127.0.0.1:$SPORT" --accept-proxy --trust 127.0.0.2
	printf 'PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\nsecret' |
		socat -t 2 - "TCP:127.0.0.1:$LPORT,bind=127.0.0.3" || true
	printf 'PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\nok' |
		socat -t 2 - "TCP:127.0.0.1:$LPORT,bind=127.0.0.2"
	wait_for 5 grep -q 'end=untrusted' "$BATS_TEST_TMPDIR/r.err"
	wait_for 5 grep -q 'end=done' "$BATS_TEST_TMPDIR/r.err"
	assert_eq "$(cat "$BATS_TEST_TMPDIR/cap")" "ok"
	run grep 'end=untrusted' "$BATS_TEST_TMPDIR/r.err"
	assert_contains "$output" "peer=127.0.0.3:"
}

@test "pp-relay --deny and --allow judge the address from the header" {
	capture_server
	relay r -c "127.0.0.1:$SPORT" --accept-proxy --allow 192.0.2.0/24 \
		--deny 192.0.2.66
	printf 'PROXY TCP4 192.0.2.66 192.0.2.2 1 2\r\nA' |
		socat -t 2 - "TCP:127.0.0.1:$LPORT" || true
	printf 'PROXY TCP4 198.51.100.1 192.0.2.2 1 2\r\nB' |
		socat -t 2 - "TCP:127.0.0.1:$LPORT" || true
	printf 'PROXY TCP4 192.0.2.7 192.0.2.2 1 2\r\nC' |
		socat -t 2 - "TCP:127.0.0.1:$LPORT"
	wait_for 5 grep -q 'end=done' "$BATS_TEST_TMPDIR/r.err"
	assert_eq "$(cat "$BATS_TEST_TMPDIR/cap")" "C"
	run grep -c 'end=denied' "$BATS_TEST_TMPDIR/r.err"
	assert_eq "$output" "2"
	run grep 'end=denied' "$BATS_TEST_TMPDIR/r.err"
	assert_contains "$output" "client=192.0.2.66:1 "
	assert_contains "$output" "client=198.51.100.1:1 "
}

@test "pp-relay closes a connection whose header does not come in time" {
	capture_server
	relay r -c "127.0.0.1:$SPORT" --accept-proxy -T 0.5
	local t0=$SECONDS
	run socat -T 5 - "TCP:127.0.0.1:$LPORT" < <(printf 'PROXY TCP4'; sleep 3)
	[ $((SECONDS - t0)) -le 2 ]
	wait_for 5 grep -q 'end=header-timeout' "$BATS_TEST_TMPDIR/r.err"
	assert_empty "$(cat "$BATS_TEST_TMPDIR/cap")"
}

@test "pp-relay --optional passes a connection without a header through" {
	reply_server
	relay r -c "127.0.0.1:$SPORT" --accept-proxy --optional \
		--trust 127.0.0.0/8 --send-proxy
	run -0 pp_py clients "127.0.0.1:$LPORT" 1 --base 127.6.0.0 --data GET
	assert_eq "$output" "127.6.0.1 s1 127.6.0.1"
	run -0 pp_py clients "127.0.0.1:$LPORT" 1 --base 192.0.2.0 --hdr v1
	assert_eq "$output" "192.0.2.1 s1 192.0.2.1"
}

@test "pp-relay passes a half-close on: the whole answer comes back" {
	# The server answers only after the client finished sending.
	socat_server "SYSTEM:cat >/dev/null; sleep 0.2; seq 1 20000"
	relay r -c "127.0.0.1:$SPORT" --accept-proxy
	# Header, request and FIN arrive before the upstream connect is done.
	run -0 socat -t 5 - "TCP:127.0.0.1:$LPORT" \
		< <(printf 'PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\nrequest')
	assert_eq "$(printf '%s\n' "$output" | tail -1)" "20000"
	assert_eq "$(printf '%s\n' "$output" | wc -l)" "20000"
}

@test "pp-relay --max-conns-per-ip refuses one address, serves the others" {
	reply_server
	relay r -c "127.0.0.1:$SPORT" --max-conns-per-ip 2
	start_bg hold pp_py hold "127.0.0.1:$LPORT" 3 127.7.0.1
	wait_file "$BATS_TEST_TMPDIR/hold.out"
	assert_eq "$(cat "$BATS_TEST_TMPDIR/hold.out")" "held 2"
	run -0 pp_py clients "127.0.0.1:$LPORT" 2 --base 127.7.0.1
	assert_eq "$output" "127.7.0.2 s1 None
127.7.0.3 s1 None"
	grep -q 'client=127.7.0.1:.*end=limit' "$BATS_TEST_TMPDIR/r.err"
}

@test "pp-relay --rate-per-ip counts new connections per address in the header" {
	reply_server
	relay r -c "127.0.0.1:$SPORT" --accept-proxy --send-proxy \
		--rate-per-ip 3/60
	local i
	for i in 1 2 3 4; do
		pp_py clients "127.0.0.1:$LPORT" 1 --base 192.0.2.0 --hdr v1
	done > "$BATS_TEST_TMPDIR/out"
	run -0 head -3 "$BATS_TEST_TMPDIR/out"
	assert_eq "$output" "192.0.2.1 s1 192.0.2.1
192.0.2.1 s1 192.0.2.1
192.0.2.1 s1 192.0.2.1"
	assert_contains "$(tail -1 "$BATS_TEST_TMPDIR/out")" "192.0.2.1 !"
	run -0 pp_py clients "127.0.0.1:$LPORT" 1 --base 192.0.2.1 --hdr v1
	assert_eq "$output" "192.0.2.2 s1 192.0.2.2"
}

@test "pp-relay --idle-timeout closes a silent connection" {
	socat_server EXEC:cat
	relay r -c "127.0.0.1:$SPORT" --idle-timeout 0.5
	local t0=$SECONDS
	run socat -T 10 - "TCP:127.0.0.1:$LPORT" < <(echo hi; sleep 5)
	[ $((SECONDS - t0)) -le 3 ]
	wait_for 5 grep -q 'end=idle-timeout' "$BATS_TEST_TMPDIR/r.err"
}

@test "pp-relay -l - takes the listening socket on fd 0" {
	reply_server
	start_on_port LPORT fd0 "$TEST_TOOLS/listenfds.py" --stdin @PORT@ -- \
		pp-relay -l - -c "127.0.0.1:$SPORT" --send-proxy
	run -0 pp_py clients "127.0.0.1:$LPORT" 1 --base 127.8.0.0
	assert_eq "$output" "127.8.0.1 s1 127.8.0.1"
}

@test "pp-relay honours systemd LISTEN_FDS" {
	reply_server
	start_on_port LPORT sd "$TEST_TOOLS/listenfds.py" @PORT@ -- \
		pp-relay -c "127.0.0.1:$SPORT" --send-proxy
	run -0 pp_py clients "127.0.0.1:$LPORT" 1 --base 127.8.1.0
	assert_eq "$output" "127.8.1.1 s1 127.8.1.1"
}

@test "pp-relay --pidfile writes the pid and refuses a second copy" {
	reply_server
	relay r -c "127.0.0.1:$SPORT" --pidfile "$BATS_TEST_TMPDIR/pid"
	wait_file "$BATS_TEST_TMPDIR/pid"
	assert_eq "$(cat "$BATS_TEST_TMPDIR/pid")" "$r_pid"
	run -1 --separate-stderr pp-relay -l "127.0.0.1:$(free_port)" \
		-c "127.0.0.1:$SPORT" --pidfile "$BATS_TEST_TMPDIR/pid"
	assert_contains "$stderr" "already running, pid $r_pid"
}

@test "pp-relay shows its state in the process title" {
	reply_server
	relay r -c "127.0.0.1:$SPORT"
	wait_for 5 sh -c "ps -o args= -p $r_pid | grep -q 'pp-relay: 0 conns, 1/1 up'"
}

@test "pp-relay -w 2 runs two workers on one port" {
	reply_server
	relay r -c "127.0.0.1:$SPORT" --send-proxy -w 2 -q
	wait_for 5 sh -c "[ \$(pgrep -P $r_pid | wc -l) -eq 2 ]"
	run -0 pp_py clients "127.0.0.1:$LPORT" 20 --base 127.9.0.0 --parallel 4
	assert_eq "$(grep -c ' s1 127.9.0.' <<< "$output")" "20"
}

@test "pp-relay drains on SIGTERM: a transfer in flight completes" {
	socat_server EXEC:cat
	relay r -c "127.0.0.1:$SPORT"
	head -c 300000 /dev/urandom > "$BATS_TEST_TMPDIR/data"
	# A slow client: the transfer spans the SIGTERM.
	(for i in 1 2 3; do head -c 100000; sleep 0.5; done \
		< "$BATS_TEST_TMPDIR/data") |
		socat -t 5 - "TCP:127.0.0.1:$LPORT" > "$BATS_TEST_TMPDIR/back" &
	local cl=$!
	sleep 0.3
	kill -TERM "$r_pid"
	sleep 0.2
	# No new connections once draining.
	run ! socat -t 1 - "TCP:127.0.0.1:$LPORT" <<< "late"
	wait "$cl"
	cmp "$BATS_TEST_TMPDIR/data" "$BATS_TEST_TMPDIR/back"
	wait_for 5 sh -c "! kill -0 $r_pid"
	# It finished within the grace period: an orderly end, not a cut.
	grep -q 'end=done' "$BATS_TEST_TMPDIR/r.err"
	run ! grep -q 'end=drain' "$BATS_TEST_TMPDIR/r.err"
}

@test "pp-relay reads a header split across segments" {
	reply_server
	relay r -c "127.0.0.1:$SPORT" --accept-proxy --send-proxy
	run -0 socat -t 5 - "TCP:127.0.0.1:$LPORT" < <(printf 'PROXY TCP4 19'; \
		sleep 0.3; printf '2.0.2.9 192.0.2.2 '; sleep 0.3; printf '1 2\r\n')
	assert_eq "$output" "s1 192.0.2.9"
}

@test "pp-relay --max-conns holds new clients in the queue until one ends" {
	socat_server EXEC:cat
	relay r -c "127.0.0.1:$SPORT" --max-conns 1 -q
	exec 7<> "/dev/tcp/127.0.0.1/$LPORT"
	printf 'one\n' >&7
	read -r -t 5 line <&7
	assert_eq "$line" "one"
	# The second connection is queued by the kernel, not served.
	# (fd 7 closed in the background job, or it keeps "one" open)
	(printf 'two\n'; sleep 3) 7>&- | socat -T 5 - "TCP:127.0.0.1:$LPORT" \
		> "$BATS_TEST_TMPDIR/two" 7>&- &
	sleep 0.5
	assert_empty "$(cat "$BATS_TEST_TMPDIR/two")"
	exec 7>&-
	wait_for 5 grep -q two "$BATS_TEST_TMPDIR/two"
}

# Out of descriptors with N more inherited: the accept or the upstream
# socket() runs out first depending on their parity, so both are tried.
fd_exhaustion() {
	local extra=$1 t1 t2
	start_on_port LPORT r sh -c 'ulimit -n 24; '"$extra"' exec pp-relay \
		-l 127.0.0.1:@PORT@ -c 127.0.0.1:'"$SPORT"
	start_bg hold pp_py hold "127.0.0.1:$LPORT" 30 127.0.0.1
	wait_file "$BATS_TEST_TMPDIR/hold.out"
	wait_for 5 grep -q 'out of file descriptors' "$BATS_TEST_TMPDIR/r.err"
	# CPU time used over one second while the clients wait: no spinning.
	t1=$(awk '{ print $14 + $15 }' "/proc/$r_pid/stat")
	sleep 1
	t2=$(awk '{ print $14 + $15 }' "/proc/$r_pid/stat")
	[ $((t2 - t1)) -lt 20 ]
	# Not once blamed on the server.
	run ! grep -q 'connect to .* failed' "$BATS_TEST_TMPDIR/r.err"
	pkill -TERM -P "$hold_pid"; stop_pid "$hold_pid" || true
	run -0 socat -t 5 - "TCP:127.0.0.1:$LPORT" <<< "again"
	assert_eq "$output" "again"
	stop_pid "$r_pid"
}

@test "pp-relay out of file descriptors refuses without spinning, then recovers" {
	socat_server EXEC:cat
	fd_exhaustion ""
	fd_exhaustion "exec 9</dev/null;"
}

# Reads stdin a block at a time with a pause after each; prints its SHA-256.
slow_sha() {
	python3 -c '
import hashlib, sys, time
h = hashlib.sha256()
while True:
    b = sys.stdin.buffer.read1(65536)
    if not b:
        break
    h.update(b)
    time.sleep(0.003)
print(h.hexdigest())'
}

@test "pp-relay loses nothing when the client reads slowly (back-pressure)" {
	local f=$BATS_TEST_TMPDIR/big want
	head -c 24000000 /dev/urandom > "$f"
	want=$(sha256sum < "$f" | cut -d' ' -f1)
	socat_server "OPEN:$f,rdonly"
	relay r -c "127.0.0.1:$SPORT" -v
	settled r
	assert_eq "$(socat -u "TCP:127.0.0.1:$LPORT,rcvbuf=65536" - | slow_sha)" \
		"$want"
	wait_for 5 grep -q "down=24000000 .*end=done" "$BATS_TEST_TMPDIR/r.err"
}

@test "pp-relay loses nothing when the server reads slowly (back-pressure)" {
	local f=$BATS_TEST_TMPDIR/big want
	head -c 24000000 /dev/urandom > "$f"
	want=$(sha256sum < "$f" | cut -d' ' -f1)
	printf '%s\n' "#!/bin/sh" "$(declare -f slow_sha)" slow_sha \
		> "$BATS_TEST_TMPDIR/sink"
	chmod +x "$BATS_TEST_TMPDIR/sink"
	start_on_port SPORT srv socat \
		"TCP-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr,fork,rcvbuf=65536" \
		"EXEC:$BATS_TEST_TMPDIR/sink"
	relay r -c "127.0.0.1:$SPORT"
	run -0 socat -t 30 - "TCP:127.0.0.1:$LPORT" < "$f"
	assert_eq "$output" "$want"
}

@test "pp-relay --usesrc clientip connects from the client's address" {
	need_root "IP_TRANSPARENT needs CAP_NET_ADMIN"
	socat_server 'SYSTEM:echo $SOCAT_PEERADDR'
	relay r -c "127.0.0.1:$SPORT" --accept-proxy --usesrc clientip
	run -0 socat -t 5 - "TCP:127.0.0.1:$LPORT" \
		< <(printf 'PROXY TCP4 127.0.0.93 127.0.0.1 1000 80\r\n')
	assert_eq "$output" "127.0.0.93"
}

@test "pp-relay -u drops privileges after binding" {
	need_root "only root can change user"
	socat_server EXEC:cat
	relay r -c "127.0.0.1:$SPORT" -u nobody
	assert_eq "$(ps -o user= -p "$r_pid")" "nobody"
	run -0 socat -t 5 - "TCP:127.0.0.1:$LPORT" <<< "hi"
	assert_eq "$output" "hi"
	run -64 pp-relay -l 127.0.0.1:1 -c 127.0.0.1:2 -u no-such-user-here
}

@test "pp-relay -u removes its pidfile from a root-owned directory when it ends" {
	need_root "only root can change user"
	local w
	socat_server EXEC:cat
	mkdir -m 755 "$BATS_TEST_TMPDIR/run"
	for w in 1 2; do
		relay r -c "127.0.0.1:$SPORT" -u nobody -w "$w" -g 1 \
			--pidfile "$BATS_TEST_TMPDIR/run/r.pid"
		wait_file "$BATS_TEST_TMPDIR/run/r.pid"
		assert_eq "$(cat "$BATS_TEST_TMPDIR/run/r.pid")" "$r_pid"
		assert_eq "$(ps -o user= -p "$r_pid")" "nobody"
		kill -TERM "$r_pid"
		wait_for 5 sh -c "! kill -0 $r_pid 2>/dev/null"
		wait_for 5 test ! -e "$BATS_TEST_TMPDIR/run/r.pid"
	done
}

@test "pp-relay: a unix-socket client matches no --deny prefix and no --allow prefix" {
	local sock=$BATS_TEST_TMPDIR/r.sock
	socat_server EXEC:cat
	start_bg r pp-relay -l "unix:$sock" -c "127.0.0.1:$SPORT" \
		--deny 0.0.0.0/0 --deny ::/0
	wait_for 5 test -S "$sock"
	run -0 socat -t 5 - "UNIX-CONNECT:$sock" <<< "hi"
	assert_eq "$output" "hi"
	stop_pid "$r_pid"
	rm -f "$sock"
	start_bg r2 pp-relay -l "unix:$sock" -c "127.0.0.1:$SPORT" \
		--allow 127.0.0.0/8
	wait_for 5 test -S "$sock"
	run --separate-stderr socat -t 5 - "UNIX-CONNECT:$sock" <<< "hi"
	assert_empty "$output"
	wait_for 5 grep -q 'end=denied' "$BATS_TEST_TMPDIR/r2.err"
}

@test "every option of pp-relay --help is in pp-relay(1), and back" {
	options_match_man pp-relay
}

@test "pp-relay -w 2 replaces a crashed worker, and its workers end with the master" {
	local w1 w2
	reply_server
	relay r -c "127.0.0.1:$SPORT" -w 2 -q
	wait_for 5 sh -c "[ \$(pgrep -P $r_pid | wc -l) -eq 2 ]"
	w1=$(pgrep -P "$r_pid" | head -n 1)
	kill -KILL "$w1"
	wait_for 5 sh -c "[ \$(pgrep -P $r_pid | wc -l) -eq 2 ] &&
	    ! pgrep -P $r_pid | grep -qx $w1"
	run -0 pp_py clients "127.0.0.1:$LPORT" 4 --base 127.9.1.0
	w2=$(pgrep -P "$r_pid")
	kill -KILL "$r_pid"
	for w1 in $w2; do
		wait_for 5 sh -c "! kill -0 $w1"
	done
}

@test "pp-relay -l unix:PATH refuses a regular file there and leaves it alone" {
	reply_server
	f=$BATS_TEST_TMPDIR/precious
	echo keep > "$f"
	run -64 --separate-stderr timeout 5 pp-relay -l "unix:$f" -c "127.0.0.1:$SPORT"
	assert_contains "$stderr" "pp-relay: -l unix:$f: $f exists and is not a socket"
	assert_eq "$(cat "$f")" keep
}

@test "pp-relay -l unix:PATH refuses a socket a server listens on" {
	need_cmd socat
	reply_server
	sock=$BATS_TEST_TMPDIR/busy.sock
	start_bg busy socat "UNIX-LISTEN:$sock,fork" EXEC:cat
	wait_for 5 test -S "$sock"
	run -1 --separate-stderr timeout 5 pp-relay -l "unix:$sock" -c "127.0.0.1:$SPORT"
	assert_contains "$stderr" "pp-relay: -l unix:$sock: a server listens there"
	[ -S "$sock" ]
	run -0 sh -c "echo hi | timeout 5 socat - UNIX-CONNECT:$sock"
	assert_eq "$output" hi
}

@test "pp-relay -l unix:PATH takes over a stale socket file" {
	need_cmd socat python3
	reply_server
	sock=$BATS_TEST_TMPDIR/stale.sock
	edgepeer dead-unix "$sock"
	[ -S "$sock" ]
	start_bg r pp-relay -l "unix:$sock" -c "127.0.0.1:$SPORT"
	wait_for 5 sh -c "echo | socat - UNIX-CONNECT:$sock"
	run -0 sh -c "printf 'x\n' | timeout 5 socat -t 3 - UNIX-CONNECT:$sock"
	assert_contains "$output" "s1"
}

@test "pp-relay --stats unix:PATH refuses a regular file there" {
	reply_server
	f=$BATS_TEST_TMPDIR/precious
	echo keep > "$f"
	run -64 --separate-stderr timeout 5 pp-relay -l "127.0.0.1:$(free_port)" \
		-c "127.0.0.1:$SPORT" --stats "unix:$f"
	assert_contains "$stderr" "pp-relay: --stats unix:$f: $f exists and is not a socket"
	assert_eq "$(cat "$f")" keep
}

@test "pp-relay -T 0.3 closes a silent client 0.3 s after it connected" {
	capture_server
	relay r -c "127.0.0.1:$SPORT" --accept-proxy -T 0.3
	run -0 silent_client 127.0.0.1 "$LPORT"
	less_than 0.2 "$output"
	less_than "$output" 1.0
	wait_for 5 grep -q 'end=header-timeout' "$BATS_TEST_TMPDIR/r.err"
}

@test "pp-relay -T 2s closes a silent client after 2 s, not later" {
	capture_server
	relay r -c "127.0.0.1:$SPORT" --accept-proxy -T 2s
	run -0 silent_client 127.0.0.1 "$LPORT" 10
	less_than 1.8 "$output"
	less_than "$output" 2.9
}

@test "pp-relay refuses a header timeout below 1 ms instead of turning it off" {
	run -64 --separate-stderr timeout 5 pp-relay -l "127.0.0.1:$(free_port)" \
		-c 127.0.0.1:9 --accept-proxy -T 0.0004
	assert_contains "$stderr" "-T 0.0004: too small"
	assert_contains "$stderr" "1ms"
}

@test "pp-relay -T 0 waits for the header without a limit" {
	capture_server
	relay r -c "127.0.0.1:$SPORT" --accept-proxy -T 0
	run -0 silent_client 127.0.0.1 "$LPORT" 1.5
	assert_eq "$output" open
}

@test "pp-relay --idle-timeout 500ms closes a silent connection" {
	socat_server EXEC:cat
	relay r -c "127.0.0.1:$SPORT" --idle-timeout 500ms
	local t0=$SECONDS
	run socat -T 10 - "TCP:127.0.0.1:$LPORT" < <(echo hi; sleep 5)
	[ $((SECONDS - t0)) -le 3 ]
	wait_for 5 grep -q 'end=idle-timeout' "$BATS_TEST_TMPDIR/r.err"
}

@test "pp-relay takes durations with units in every timeout option" {
	reply_server
	relay r -c "127.0.0.1:$SPORT" --connect-timeout 1500ms --grace 1m \
		--header-timeout 1h --idle-timeout 0.5h
	run -64 --separate-stderr pp-relay -l "127.0.0.1:$(free_port)" \
		-c 127.0.0.1:9 --idle-timeout 5d
	assert_contains "$stderr" "--idle-timeout 5d: invalid"
}

@test "pp-relay takes -a v1 and --accept-proxy v1 as two words" {
	reply_server
	relay r -c "127.0.0.1:$SPORT" -a v1 --send-proxy
	run -0 pp_py clients "127.0.0.1:$LPORT" 1 --base 192.0.2.0 --hdr v1
	assert_eq "$output" "192.0.2.1 s1 192.0.2.1"
	relay r2 -c "127.0.0.1:$SPORT" --accept-proxy v2 --send-proxy
	run -0 pp_py clients "127.0.0.1:$LPORT" 1 --base 192.0.2.0 --hdr v1
	assert_contains "$output" "192.0.2.1 !"
}

@test "pp-relay takes --timeout like pp-strip" {
	capture_server
	relay r -c "127.0.0.1:$SPORT" --accept-proxy --timeout 0.3
	run -0 silent_client 127.0.0.1 "$LPORT"
	less_than "$output" 1.0
}

@test "pp-relay --max-header 65551 reads a header larger than its buffers" {
	capture_server
	relay r -c "127.0.0.1:$SPORT" --accept-proxy --max-header 65551 \
		--send-proxy=v2
	settled r
	big=$(head -c 30000 /dev/zero | hex)
	{ pp-send -2 -s 192.0.2.1:1 -d 192.0.2.2:2 --tlv "0xE1=0x$big" -n
	  printf payload; } > "$BATS_TEST_TMPDIR/in"
	timeout 5 socat -u "OPEN:$BATS_TEST_TMPDIR/in" "TCP:127.0.0.1:$LPORT"
	wait_for 5 grep -q 'end=' "$BATS_TEST_TMPDIR/r.err"
	wait_for 5 grep -q payload "$BATS_TEST_TMPDIR/cap"
	run -0 pp-inspect -j "$BATS_TEST_TMPDIR/cap"
	assert_eq "$(json_get "$output" .src.addr)" 192.0.2.1
}

@test "pp-relay --pass-tlvs refuses, and says so, TLVs too many to pass on whole" {
	capture_server
	relay r -c "127.0.0.1:$SPORT" --accept-proxy --max-header 65551 \
		--send-proxy=v2 --pass-tlvs
	settled r
	big=$(head -c 30000 /dev/zero | hex)
	{ pp-send -2 -s 192.0.2.1:1 -d 192.0.2.2:2 --tlv "0xE1=0x$big" -n
	  printf payload; } > "$BATS_TEST_TMPDIR/in"
	timeout 5 socat -u "OPEN:$BATS_TEST_TMPDIR/in" "TCP:127.0.0.1:$LPORT"
	wait_for 5 grep -q 'refused: 30003 bytes of TLVs to pass on, at most 8192' \
		"$BATS_TEST_TMPDIR/r.err"
	grep -q 'end=error' "$BATS_TEST_TMPDIR/r.err"
	assert_empty "$(cat "$BATS_TEST_TMPDIR/cap")"
}

@test "pp-relay serves /metrics on a systemd socket named metrics" {
	reply_server
	MPORT=$(free_port)
	start_on_port LPORT sd "$TEST_TOOLS/listenfds.py" @PORT@=data \
		"$MPORT=metrics" -- pp-relay -c "127.0.0.1:$SPORT" --send-proxy
	run -0 curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics"
	assert_contains "$output" "# TYPE"
	run -0 pp_py clients "127.0.0.1:$LPORT" 1 --base 127.8.1.0
	assert_eq "$output" "127.8.1.1 s1 127.8.1.1"
}

# under_socket [--journal] ARGS...: pp-relay ARGS with stderr a unix
# socket (JOURNAL_STREAM naming it with --journal), one connection to
# 127.0.0.1:LPORT through it, then SIGTERM; prints what reached the socket.
under_socket() {
	python3 -c '
import os, signal, socket, subprocess, sys, time
journal = sys.argv[1] == "--journal"
args = sys.argv[2:] if journal else sys.argv[1:]
port = int(os.environ["LPORT"])
a, b = socket.socketpair()
env = dict(os.environ)
env.pop("JOURNAL_STREAM", None)
if journal:
    st = os.fstat(b.fileno())
    env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
p = subprocess.Popen(args, stderr=b, env=env)
b.close()
for _ in range(100):
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        break
    except OSError:
        time.sleep(0.1)
c.sendall(b"hi")
c.shutdown(socket.SHUT_WR)
c.settimeout(10)
while c.recv(100):
    pass
c.close()
time.sleep(1)
p.send_signal(signal.SIGTERM)
p.wait(timeout=20)
a.settimeout(5)
out = b""
while True:
    d = a.recv(65536)
    if not d:
        break
    out += d
sys.stdout.write(out.decode(errors="replace"))
' "$@"
}

@test "pp-relay under the journal writes each line to stderr with its priority" {
	reply_server
	export LPORT=$(free_port)
	run -0 under_socket --journal pp-relay -l "127.0.0.1:$LPORT" \
		-c "127.0.0.1:$SPORT"
	[[ "$output" =~ (^|$'\n')'<6>pp-relay: client=127.0.0.1:' ]]
	[[ "$output" =~ (^|$'\n')'<4>pp-relay: draining 0 connections' ]]
}

@test "pp-relay under inetd logs to syslog at daemon.info as pp-relay" {
	need_root
	need_cmd unshare mount
	# A private mount namespace with a tmpfs on /dev: /dev/log is ours.
	cat > "$BATS_TEST_TMPDIR/syslog.py" <<-'EOF'
	import os, socket, subprocess, sys, time
	log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	log.bind("/dev/log")
	open("/dev/null", "w").close()
	a, b = socket.socketpair()
	env = dict(os.environ)
	env.pop("JOURNAL_STREAM", None)
	port = int(sys.argv[1])
	p = subprocess.Popen(sys.argv[2:], stderr=b, env=env,
	    stdin=subprocess.DEVNULL)
	b.close()
	for _ in range(100):
	    try:
	        c = socket.create_connection(("127.0.0.1", port), timeout=5)
	        break
	    except OSError:
	        time.sleep(0.1)
	c.settimeout(10)
	try:
	    c.recv(10)
	except OSError:
	    pass
	c.close()
	log.settimeout(10)
	for _ in range(5):
	    m = log.recv(4096).decode(errors="replace")
	    print(m)
	    if "client=" in m:
	        break
	p.kill()
	p.wait()
	EOF
	local port
	port=$(free_port)
	run -0 timeout 60 unshare -m --propagation private sh -c \
		"mount -t tmpfs t /dev && python3 '$BATS_TEST_TMPDIR/syslog.py' $port '$PP_BIN/pp-relay' -l 127.0.0.1:$port -c 127.0.0.1:1"
	# <30> is LOG_DAEMON | LOG_INFO; the ident is the program's name.
	[[ "$output" =~ '<30>'[^$'\n']*' pp-relay['[0-9]+']: client=127.0.0.1:' ]]
}
