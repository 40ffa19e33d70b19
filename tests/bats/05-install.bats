#!/usr/bin/env bats
# make install into a staged root (DESTDIR) from the tree under test: the
# libproxyhdr.pc matches PREFIX, LIBDIR and INCLUDEDIR, file modes follow
# Debian policy, a program builds against the staged install through
# pkg-config, and CPPFLAGS reaches every compile.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	# A make that runs the suite must not hand this one its variables.
	unset MAKEFLAGS MFLAGS MAKELEVEL
	# The build tree the suite runs against; install only copies it.
	export O=${PP_BIN%/bin} R=$BATS_FILE_TMPDIR/root
	make -s -C "$PP_TOP" O="$O" install DESTDIR="$R" PREFIX=/usr \
		> "$BATS_FILE_TMPDIR/install.log" 2>&1
}

pcvar() {
	PKG_CONFIG_PATH=$R/usr/lib/pkgconfig PKG_CONFIG_LIBDIR= \
		pkg-config --variable="$1" libproxyhdr
}

@test "make install PREFIX=/usr installs a .pc that says /usr" {
	assert_eq "$(pcvar prefix)" /usr
	assert_eq "$(pcvar libdir)" /usr/lib
	assert_eq "$(pcvar includedir)" /usr/include
}

@test "make install with LIBDIR and INCLUDEDIR puts them in the .pc" {
	local r=$BATS_TEST_TMPDIR/r2
	unset MAKEFLAGS MFLAGS MAKELEVEL
	make -s -C "$PP_TOP" O="$O" install DESTDIR="$r" PREFIX=/opt/pp \
		LIBDIR=/opt/pp/lib64 INCLUDEDIR=/opt/pp/inc > /dev/null
	run -0 cat "$r/opt/pp/lib64/pkgconfig/libproxyhdr.pc"
	assert_contains "$output" "prefix=/opt/pp"
	assert_contains "$output" "libdir=/opt/pp/lib64"
	assert_contains "$output" "includedir=/opt/pp/inc"
}

@test "the installed .pc claims no libbsd the codec does not use" {
	run -0 cat "$R/usr/lib/pkgconfig/libproxyhdr.pc"
	[[ $output != *-lbsd* ]]
	run -0 sh -c "nm -u '$O'/lib/pp_*.o"
	for s in getprogname setprogname strtonum strlcpy strlcat reallocarray \
	    arc4random setproctitle; do
		[[ $output != *" $s"* ]]
	done
}

@test "make install gives binaries 0755 and libraries, header, man, .pc 0644" {
	local f
	for f in "$R"/usr/bin/pp-*; do
		assert_eq "$(stat -c %a "$f")" 755
	done
	for f in "$R"/usr/lib/libproxyhdr.so.*.*.* "$R"/usr/lib/libproxyhdr.a \
	    "$R"/usr/include/proxyhdr.h "$R"/usr/lib/pkgconfig/libproxyhdr.pc \
	    "$R"/usr/share/man/man*/*; do
		[ -f "$f" ]
		assert_eq "${f#$R} $(stat -c %a "$f")" "${f#$R} 644"
	done
}

@test "a program builds with pkg-config against the staged install and runs" {
	local T=$BATS_TEST_TMPDIR
	cat > "$T/p.c" <<-'EOC'
	#include <stdio.h>
	#include <proxyhdr.h>
	int
	main(void)
	{
		static const char b[] =
		    "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
		struct pp_header h;

		printf("%d\n", pp_parse(b, sizeof(b) - 1, &h));
		return 0;
	}
	EOC
	export PKG_CONFIG_SYSROOT_DIR=$R PKG_CONFIG_LIBDIR=$R/usr/lib/pkgconfig
	run -0 pkg-config --cflags --libs libproxyhdr
	assert_contains "$output" "-I$R/usr/include"
	assert_contains "$output" "-L$R/usr/lib"
	# A library built with ASan (make check's second run) needs its
	# runtime in the program too.
	local san=
	nm -D "$R"/usr/lib/libproxyhdr.so | grep -q __asan_ &&
		san=-fsanitize=address,undefined
	# shellcheck disable=SC2046
	cc -std=c11 -Wall -Werror $san -o "$T/p" "$T/p.c" \
		$(pkg-config --cflags --libs libproxyhdr)
	LD_LIBRARY_PATH=$R/usr/lib run -0 "$T/p"
	assert_eq "$output" 45
}

@test "CPPFLAGS reaches every compile" {
	unset MAKEFLAGS MFLAGS MAKELEVEL
	run -0 make -n -B -C "$PP_TOP" O="$BATS_TEST_TMPDIR/o" \
		CPPFLAGS=-DPP_CPPFLAGS_SEEN all \
		"$BATS_TEST_TMPDIR/o/tools/pp-echo"
	local line n=0
	while IFS= read -r line; do
		case $line in
		*" -c "*|*" -o "*.c*)
			n=$((n + 1))
			assert_contains "$line" -DPP_CPPFLAGS_SEEN ;;
		esac
	done <<< "$output"
	[ "$n" -gt 10 ]
}

@test "libproxyhdr exports proxyhdr.h's functions and nothing else" {
	local so=$R/usr/lib/libproxyhdr.so.0 want got
	run -0 readelf -d "$so"
	assert_contains "$output" "[libproxyhdr.so.0]"
	# Every function the public header declares, and only those.
	want=$(grep -o '\bpp_[a-z0-9_]*(' "$PP_TOP/lib/proxyhdr.h" |
		tr -d '(' | sort -u)
	got=$(nm -D --defined-only "$so" | awk '$2 == "T" { print $3 }' |
		sed 's/@.*//' | sort -u)
	assert_eq "$got" "$want"
	# No private helper (lib/net/, lib/relay/) is in the library at all.
	run -0 nm "$O/libproxyhdr.a"
	assert_not_contains "$output" "net_addr"
	assert_not_contains "$output" "relay_"
	run -0 objdump -T "$so"
	assert_contains "$output" "PROXYHDR_0"
}
