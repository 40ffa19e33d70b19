#!/usr/bin/env bats
# One meaning per short letter: a letter names the same long option in
# every tool that has it (but -s, --src in pp-send and --server in
# pp-balance), and proxy-protocol(7) lists them all.

bats_require_minimum_version 1.5.0
load helpers

TOOLS5="pp-send pp-strip pp-inspect pp-relay pp-balance"

# help_letters TOOL: "LETTER LONG TOOL" for every "-L, --long" in --help.
help_letters() {
	"$1" --help | grep -oE -- '(^|[ ;])-[a-zA-Z0-9], --[a-z0-9-]+' |
		sed -e 's/^[ ;]*//' -e 's/,//' -e "s/\$/ $1/"
}

# all_letters: help_letters of the five tools.
all_letters() {
	local t
	for t in $TOOLS5; do
		help_letters "$t" || return 1
	done
}

@test "every short letter names one long option in all the tools, but -s" {
	local lines bad
	lines=$(all_letters)
	[ -n "$lines" ]
	# A letter with more than one long name, -s aside.
	bad=$(awk '$1 != "-s" { print $1, $2 }' <<< "$lines" | sort -u |
		awk '{ n[$1]++; l[$1] = l[$1] " " $2 }
		    END { for (k in n) if (n[k] > 1) print k ":" l[k] }')
	assert_empty "$bad"
	# -s is the one exception the interface fixes, and nothing more.
	assert_eq "$(awk '$1 == "-s"' <<< "$lines" | sort)" \
		"$(printf '%s\n' '-s --server pp-balance' '-s --src pp-send')"
}

@test "each tool accepts exactly the short letters its --help shows" {
	local t l said took
	for t in $TOOLS5; do
		# pp-relay and pp-balance share one parser: a letter of the
		# other face is a usage error, yet getopt knows it.
		case $t in
		pp-relay|pp-balance)
			said=$({ help_letters pp-relay; help_letters pp-balance; } |
				cut -c2 | sort -u | tr -d '\n') ;;
		*)	said=$(help_letters "$t" | cut -c2 | sort -u | tr -d '\n') ;;
		esac
		[ "$t" = pp-send ] && said=$(printf '12%s' "$said" | fold -w1 | sort -u | tr -d '\n')
		took=
		for l in {0..9} {a..z} {A..Z}; do
			run --separate-stderr timeout 10 "$t" "-$l" < /dev/null
			[[ $stderr == *"invalid option"* ]] || took+=$l
		done
		took=$(fold -w1 <<< "$took" | sort -u | tr -d '\n')
		[ "$took" = "$said" ] ||
			{ echo "$t: accepts '$took', --help shows '$said'" >&2; return 1; }
	done
}

@test "proxy-protocol(7) OPTIONS ACROSS THE TOOLS lists what the tools say" {
	local man tools
	# Rows are "|  *-L*", ":  *--long*...", ":  tool, tool".
	man=$(awk '/^# OPTIONS ACROSS THE TOOLS/ { on = 1; next }
		/^# / { on = 0 } on' "$PP_TOP/man/proxy-protocol.7.scd" |
		awk '/^\|/ { gsub(/[|* ]/, ""); l = $0; n = 0; next }
		    /^:/ && l != "" { n++; sub(/^: */, "")
			if (n == 1) { match($0, /--[a-z0-9-]+/)
				lo = substr($0, RSTART, RLENGTH) }
			else { gsub(/ /, ""); print l, lo, $0; l = "" } }' | sort)
	tools=$(all_letters | awk '!seen[$0]++ { k = $1 " " $2
		t[k] = t[k] (t[k] == "" ? "" : ",") $3 }
		END { for (k in t) print k, t[k] }' | sort)
	[ -n "$man" ]
	assert_eq "$man" "$tools"
}

@test "every tool's man page points to OPTIONS ACROSS THE TOOLS" {
	local t
	for t in $TOOLS5; do
		grep -q 'OPTIONS ACROSS THE TOOLS' "$PP_TOP/man/$t.1.scd" ||
			{ echo "man/$t.1.scd does not point to the table" >&2; return 1; }
	done
}
